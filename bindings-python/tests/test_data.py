"""Inputs (mirrors core/src/data): every supported frame type reaches the engine with the
right column types, and bad inputs give clear errors."""

from __future__ import annotations

import datetime as dt

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
