"""The example notebook runs from top to bottom in a real Jupyter kernel."""

from __future__ import annotations

import pathlib

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = pathlib.Path(__file__).resolve().parents[2] / "examples" / "notebooks" / "quickstart.ipynb"


def test_quickstart_notebook_executes():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    # The fitted model's HTML, the leaderboard table and the plot were all displayed.
    html = [o["data"]["text/html"] for o in outputs if "data" in o and "text/html" in o["data"]]
    assert any("<b>AutoML</b>" in h for h in html)
    assert any(o for o in outputs if "data" in o and "image/png" in o["data"])
    # Explanations and the report are shown too: TreeSHAP columns, the report inline.
    assert any("shap:sex" in h for h in html)
    assert any(h.startswith("<iframe srcdoc=") and "What the model relies on" in h for h in html)
