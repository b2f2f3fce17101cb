"""Model files (mirrors automl/src/artifact.rs): Python and the CLI share `model.automl`."""

from __future__ import annotations

import copy
import pickle
import subprocess

import numpy as np
import pandas as pd
import polars as pl
import pytest

import automl
from conftest import QUICK


def test_save_load_round_trip_predicts_the_same(tmp_path, penguins_csv):
    df = pl.read_csv(penguins_csv)
    m = automl.AutoML(**QUICK).fit(df, target="species")
    path = tmp_path / "model.automl"
    m.save(path)
    loaded = automl.AutoML.load(path)
    X = df.drop("species")
    assert (loaded.predict(X) == m.predict(X)).all()
    np.testing.assert_allclose(loaded.predict_proba(X), m.predict_proba(X))
    assert loaded.best_config == m.best_config
    assert list(loaded.classes_) == list(m.classes_)


def test_a_model_saved_from_python_predicts_the_same_through_the_cli(tmp_path, titanic_csv, automl_bin):
    df = pd.read_csv(titanic_csv)
    m = automl.AutoML(**QUICK).fit(df, target="survived")
    model = tmp_path / "model.automl"
    m.save(model)
    out = tmp_path / "pred.csv"
    subprocess.run([automl_bin, "predict", "--model", str(model), str(titanic_csv), "--out", str(out), "--proba"], check=True, capture_output=True)
    cli = pl.read_csv(out)
    ours = m.predict_proba(df.drop(columns="survived"))
    assert cli.columns == [str(c) for c in m.model_.labels]
    np.testing.assert_allclose(cli.to_numpy(), ours, rtol=1e-9, atol=1e-12)


def test_a_model_from_the_cli_loads_in_python(tmp_path, penguins_csv, automl_bin):
    subprocess.run([automl_bin, "run", str(penguins_csv), "--target", "species", "--max-trials", "6", "--time-budget", "20", "--out", str(tmp_path), "--quiet"], check=True, capture_output=True)
    m = automl.AutoML.load(tmp_path / "model.automl")
    pred = m.predict(pl.read_csv(penguins_csv))
    assert set(pred) <= {"Adelie", "Chinstrap", "Gentoo"}
    assert m.score(pl.read_csv(penguins_csv).drop("species"), pl.read_csv(penguins_csv)["species"]) > 0.9
    with pytest.raises(automl.NotFittedError, match="leaderboard.csv"):
        m.leaderboard()


def test_a_damaged_model_file_is_a_model_file_error(tmp_path):
    bad = tmp_path / "bad.automl"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(automl.ModelFileError, match="bad.automl"):
        automl.AutoML.load(bad)


def test_predict_names_missing_columns(penguins_csv):
    df = pl.read_csv(penguins_csv)
    m = automl.AutoML(**QUICK).fit(df, target="species")
    with pytest.raises(automl.DataError, match="missing columns 'island', 'sex'"):
        m.predict(df.drop("island", "sex"))


def test_a_fitted_model_pickles_as_its_model_file_bytes(tmp_path, penguins_csv):
    df = pl.read_csv(penguins_csv)
    m = automl.AutoML(**QUICK).fit(df, target="species")
    path = tmp_path / "model.automl"
    m.save(path)
    assert m.model_.to_bytes() == path.read_bytes()
    for restored in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        X = df.drop("species")
        assert (restored.predict(X) == m.predict(X)).all()
        np.testing.assert_allclose(restored.predict_proba(X), m.predict_proba(X))
        assert restored.best_config == m.best_config and restored.leaderboard().equals(m.leaderboard())
        assert restored.model_.to_bytes() == path.read_bytes()
    assert pickle.loads(pickle.dumps(m.model_, protocol=2)).to_bytes() == path.read_bytes()


def test_damaged_model_bytes_are_a_model_file_error(penguins_csv):
    m = automl.AutoML(**QUICK).fit(penguins_csv, target="species")
    data = bytearray(m.model_.to_bytes())
    data[-1] ^= 0xFF
    with pytest.raises(automl.ModelFileError, match="model bytes: the model file is damaged"):
        automl._automl.Model.from_bytes(bytes(data))
    with pytest.raises(automl.ModelFileError, match="model bytes: not an automl model file"):
        automl._automl.Model.from_bytes(b"not a model")
