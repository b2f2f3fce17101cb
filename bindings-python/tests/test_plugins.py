"""Plugins from Python (mirrors automl/src/plugins): the same components as the CLI."""

from __future__ import annotations

import pathlib
import subprocess

import numpy as np
import polars as pl
import pytest

import automl
from conftest import QUICK, ROOT

DIST = ROOT / "examples" / "plugins" / "dist"


def component(name: str) -> str:
    p = DIST / f"{name}.wasm"
    if not p.is_file():
        pytest.fail(f"{p} is missing: build the example plugins with examples/plugins/build.sh")
    return str(p)


def test_a_metric_plugin_is_the_objective(titanic_csv):
    m = automl.AutoML(**QUICK, plugins=[component("cost_weighted")], metric="cost_weighted").fit(titanic_csv, target="survived")
    assert m.model_.metric == "cost_weighted"
    assert m.summary_["direction"] == "minimize"
    assert m.summary_["plugins"][0]["info"]["name"] == "cost_weighted"
    scores = m.leaderboard().filter(pl.col("status") == "ok")["score"].to_list()
    assert scores == sorted(scores) and 0 < scores[0] < 1.5


def test_other_metric_plugins_are_leaderboard_columns(titanic_csv):
    m = automl.AutoML(**QUICK, plugins=[component("cost_weighted")]).fit(titanic_csv, target="survived")
    board = m.leaderboard()
    assert m.model_.metric == "log_loss"
    assert "cost_weighted" in board.columns
    costs = board.filter(pl.col("status") == "ok")["cost_weighted"].to_list()
    assert costs and all(0 <= c <= 5 for c in costs)


def test_a_preprocessor_survives_save_load_and_the_cli(tmp_path, titanic_csv, automl_bin):
    df = pl.read_csv(titanic_csv)
    m = automl.AutoML(**{**QUICK, "max_trials": 4}, plugins=[component("log_transform")]).fit(df, target="survived")
    path = tmp_path / "model.automl"
    m.save(path)
    loaded = automl.AutoML.load(path)
    X = df.drop("survived")
    np.testing.assert_allclose(loaded.predict_proba(X), m.predict_proba(X))
    out = tmp_path / "pred.csv"
    subprocess.run([automl_bin, "predict", "--model", str(path), str(titanic_csv), "--out", str(out), "--proba"], check=True, capture_output=True)
    np.testing.assert_allclose(pl.read_csv(out).to_numpy(), m.predict_proba(X), rtol=1e-9, atol=1e-12)


def test_a_wrong_world_is_a_plugin_error(penguins_csv):
    with pytest.raises(automl.PluginError, match="wrong_world"):
        automl.AutoML(**QUICK, plugins=[component("wrong_world")]).fit(penguins_csv, target="species")


def test_a_python_metric_plugin_scores_like_the_rust_one(titanic_csv):
    py = DIST / "cost_weighted_py.wasm"
    if not py.is_file():
        pytest.fail(f"{py} is missing: build it with examples/plugins/build-python.sh")
    common = dict(QUICK, max_trials=3, seed=1, learners=["logistic"])
    a = automl.AutoML(**common, plugins=[component("cost_weighted")], metric="cost_weighted").fit(titanic_csv, target="survived")
    b = automl.AutoML(**common, plugins=[str(py)], metric="cost_weighted_py").fit(titanic_csv, target="survived")
    assert a.best_config == b.best_config
    assert a.best_score == pytest.approx(b.best_score, rel=1e-12)
