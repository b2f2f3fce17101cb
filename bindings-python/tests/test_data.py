"""Inputs (mirrors core/src/data): every supported frame type reaches the engine with the
right column types, and bad inputs give clear errors."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import pathlib
import subprocess
import sys
import textwrap
import venv

import numpy as np
import pandas as pd
import polars as pl
import pytest

import automl
from automl._data import labels_to_array, to_frame, to_series
from conftest import QUICK


def test_polars_pandas_numpy_and_dict_give_the_same_profile(penguins_csv):
    df = pl.read_csv(penguins_csv)
    p_polars = automl.profile(df, target="species")
    p_pandas = automl.profile(df.to_pandas(), target="species")
    p_csv = automl.profile(penguins_csv, target="species")
    kinds = lambda p: {c["name"]: c["kind"] for c in p["features"]}
    assert kinds(p_polars) == kinds(p_pandas) == kinds(p_csv)
    assert kinds(p_polars)["island"] == "categorical"
    assert kinds(p_polars)["bill_length_mm"] == "numeric"
    assert p_polars["rows"] == df.height == 344


def test_numpy_columns_are_named_x0_onwards():
    frame = to_frame(np.arange(12, dtype=float).reshape(4, 3))
    assert frame.columns == ["x0", "x1", "x2"]
    assert frame["x2"].to_list() == [2.0, 5.0, 8.0, 11.0]


def test_categorical_datetime_bool_and_nulls_are_read():
    n = 120
    rng = np.random.default_rng(0)
    when = [dt.datetime(2024, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 300, n)]
    frame = pd.DataFrame({
        "colour": pd.Categorical(rng.choice(["red", "green", "blue"], n)),
        "when": when,
        "flag": rng.random(n) > 0.5,
        "x": np.where(rng.random(n) > 0.1, rng.normal(size=n), np.nan),
    })
    p = automl.profile(frame)
    kinds = {c["name"]: c["kind"] for c in p["features"]}
    assert kinds == {"colour": "categorical", "when": "datetime", "flag": "boolean", "x": "numeric"}
    missing = {c["name"]: c["missing"] for c in p["features"]}
    assert missing["x"] == int(frame["x"].isna().sum()) > 0


def test_fit_on_a_csv_path_reads_it_like_the_cli(penguins_csv):
    m = automl.AutoML(**QUICK).fit(penguins_csv, target="species")
    assert set(m.classes_) == {"Adelie", "Chinstrap", "Gentoo"}
    assert m.predict(penguins_csv).shape == (344,)


def test_nested_columns_are_refused_with_the_column_name():
    df = pl.DataFrame({"a": [[1, 2], [3]], "y": [0, 1]})
    with pytest.raises(TypeError, match="column 'a'"):
        to_frame(df)


def test_unsupported_inputs_are_type_errors():
    with pytest.raises(TypeError, match="expected a pandas or polars DataFrame"):
        to_frame(object())
    with pytest.raises(TypeError, match="__arrow_c_stream__"):
        automl._automl.profile(object(), "thing")


def test_x_and_y_lengths_must_match():
    with pytest.raises(ValueError, match="X has 3 rows but y has 2"):
        automl.AutoML(**QUICK).fit(np.zeros((3, 2)), [0, 1])


def test_labels_keep_the_targets_type():
    assert labels_to_array(["0", "1"], np.dtype("int64")).tolist() == [0, 1]
    assert labels_to_array(["0", "1"], np.dtype("bool")).tolist() == [False, True]
    assert labels_to_array(["1.5", "2"], None).dtype == np.float64
    assert labels_to_array(["a", "b"], None).tolist() == ["a", "b"]
    s, dtype = to_series(pd.Series(["x", "y"], dtype="category"))
    assert s.dtype == pl.String and s.to_list() == ["x", "y"]


# ---------------------------------------------------------------- pandas without pyarrow

# Fits a pandas frame read by pd.read_csv (text columns included) with `import pyarrow`
# failing, in a fresh interpreter; prints what it got as JSON. argv: the titanic and
# penguins CSVs, and whether to block pyarrow (a fresh environment has none to block).
WITHOUT_PYARROW = textwrap.dedent("""
    import json, sys
    if sys.argv[3] == "block":
        sys.modules["pyarrow"] = None  # `import pyarrow` now fails, as where it is not installed
    try:
        import pyarrow  # noqa: F401
        sys.exit("pyarrow is importable")
    except ImportError:
        pass
    import pandas as pd
    import automl

    df = pd.read_csv(sys.argv[1])
    text = [c for c in df.columns if df[c].dtype.kind not in "biuf"]
    m = automl.AutoML(max_trials=3, time_budget=20, concurrency=1, verbose=False).fit(df, target="survived")
    X = df.drop(columns="survived")
    penguins = pd.read_csv(sys.argv[2])
    p = automl.AutoML(max_trials=3, time_budget=20, concurrency=1, verbose=False).fit(penguins.drop(columns="species"), penguins["species"])
    print(json.dumps({
        "text_columns": text,
        "kinds": {c["name"]: c["kind"] for c in m.profile()["features"]},
        "predictions": len(m.predict(X)),
        "proba_shape": list(m.predict_proba(X).shape),
        "accuracy": m.score(X, df["survived"]),
        "leaderboard": type(m.leaderboard()).__module__.split(".")[0],
        "importance": list(m.feature_importance().columns),
        "classes": [str(c) for c in p.classes_],
        "penguin_accuracy": p.score(penguins.drop(columns="species"), penguins["species"]),
        "profile_rows": automl.profile(penguins, target="species")["rows"],
    }))
""")


def _check_fit_without_pyarrow(result: dict) -> None:
    assert {"sex", "embarked"} <= set(result["text_columns"])
    assert result["kinds"]["sex"] == "categorical" and result["kinds"]["age"] == "numeric"
    assert result["predictions"] == result["proba_shape"][0] > 0 and result["proba_shape"][1] == 2
    assert result["accuracy"] > 0.7 and result["penguin_accuracy"] > 0.9
    assert result["leaderboard"] == "pandas" and result["importance"] == ["feature", "gain", "splits"]
    assert result["classes"] == ["Adelie", "Chinstrap", "Gentoo"] and result["profile_rows"] == 344


def test_pandas_frames_with_text_columns_fit_without_pyarrow(titanic_csv, penguins_csv):
    out = subprocess.run([sys.executable, "-c", WITHOUT_PYARROW, str(titanic_csv), str(penguins_csv), "block"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    _check_fit_without_pyarrow(json.loads(out.stdout.splitlines()[-1]))


@pytest.mark.skipif(not os.environ.get("AUTOML_WHEEL"), reason="set AUTOML_WHEEL to a wheel of this package (maturin build, or pip wheel ./bindings-python) to test a fresh environment with pandas and no pyarrow; it needs the package index")
def test_a_fresh_environment_with_pandas_only_fits_a_pandas_frame(tmp_path, titanic_csv, penguins_csv):
    """The install the issue describes: a new environment (no system site-packages) with
    the wheel and pandas, so pyarrow is truly absent."""
    wheel = pathlib.Path(os.environ["AUTOML_WHEEL"])
    assert wheel.is_file(), f"AUTOML_WHEEL={wheel} is not a file"
    env = tmp_path / "env"
    venv.EnvBuilder(with_pip=True).create(env)
    python = env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel), "pandas"], check=True, timeout=600)
    out = subprocess.run([str(python), "-c", WITHOUT_PYARROW, str(titanic_csv), str(penguins_csv), "fresh"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    _check_fit_without_pyarrow(json.loads(out.stdout.splitlines()[-1]))


def _pandas_frame_of_every_kind() -> pd.DataFrame:
    return pd.DataFrame({
        "int": [1, 2, 3],
        "float": [1.5, np.nan, 3.0],
        "bool": [True, False, True],
        "object_text": np.array(["a", None, "c"], dtype=object),
        "object_text_nan": np.array(["a", np.nan, "c"], dtype=object),
        "string": pd.array(["x", None, "z"], dtype="string"),
        "category": pd.Categorical(["r", None, "g"]),
        "category_of_numbers": pd.Categorical([1, 2, None]),
        "Int64": pd.array([1, None, 3], dtype="Int64"),
        "Float64": pd.array([1.5, None, 2.0], dtype="Float64"),
        "boolean": pd.array([True, None, False], dtype="boolean"),
        "datetime": pd.to_datetime(["2020-01-01", None, "2020-01-03"]),
        "datetime_tz": pd.to_datetime(["2020-01-01", None, "2020-01-03"]).tz_localize("Europe/Paris"),
        "duration": pd.to_timedelta([1, 2, None], unit="s"),
        "object_dates": [dt.date(2020, 1, 1), None, dt.date(2020, 1, 3)],
        "object_decimals": [decimal.Decimal("1.5"), None, decimal.Decimal("2")],
        "object_ints": np.array([1, 2, 3], dtype=object),
        "all_missing": [np.nan, None, np.nan],
        "uint8": np.array([1, 2, 3], dtype=np.uint8),
        "float32": np.array([1, np.nan, 3], dtype=np.float32),
    })


def test_pandas_columns_convert_as_through_pyarrow():
    """Without pyarrow, each kind of pandas column arrives as pyarrow would bring it."""
    pytest.importorskip("pyarrow")
    from automl._data import _engine_types

    df = _pandas_frame_of_every_kind()
    ours = to_frame(df)
    theirs = _engine_types(pl.from_pandas(df, include_index=False), "X")
    assert ours.schema == theirs.schema
    for name in df.columns:
        assert ours[name].to_list() == theirs[name].to_list(), name


def test_object_columns_of_mixed_values_are_read_as_text():
    frame = to_frame(pd.DataFrame({"mixed": [1, "a", None], "numbers": np.array([1, 2.5, None], dtype=object)}))
    assert frame["mixed"].dtype == pl.String and frame["mixed"].to_list() == ["1", "a", None]
    assert frame["numbers"].dtype == pl.Float64 and frame["numbers"].to_list() == [1.0, 2.5, None]
    s, _ = to_series(np.array(["a", 1, None], dtype=object))
    assert s.dtype == pl.String and s.to_list() == ["a", "1", None]


def test_arrow_tables_keep_their_column_names():
    pa = pytest.importorskip("pyarrow")
    frame = to_frame(pa.table({"a": [1.0, 2.0], "b": ["x", "y"]}))
    assert frame.columns == ["a", "b"] and frame["b"].dtype == pl.String


def test_one_dimensional_arrays_are_refused_as_x():
    with pytest.raises(ValueError, match="Reshape your data"):
        to_frame(np.arange(5.0))
    with pytest.raises(ValueError, match="Reshape your data"):
        to_frame([1.0, 2.0])
