"""Shared fixtures: the bundled CSVs and a quick budget."""

from __future__ import annotations

import os
import pathlib
import shutil

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT / "examples" / "data"

# Small enough for CI on two cores, large enough for several learners to be tried.
QUICK = dict(time_budget=20, max_trials=12, concurrency=1, verbose=False)


@pytest.fixture(scope="session")
def penguins_csv() -> pathlib.Path:
    return DATA / "penguins.csv"


@pytest.fixture(scope="session")
def titanic_csv() -> pathlib.Path:
    return DATA / "titanic.csv"


@pytest.fixture(scope="session")
def automl_bin() -> str:
    """The `automl` command built by `cargo build` (or AUTOML_BIN)."""
    candidates = [os.environ.get("AUTOML_BIN"), str(ROOT / "target" / "debug" / "automl"), str(ROOT / "target" / "release" / "automl"), shutil.which("automl")]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    pytest.fail("the automl binary is not built: run `cargo build -p automl` first or set AUTOML_BIN")
