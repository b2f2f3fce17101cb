"""Explanations and the report from Python: explain() is TreeSHAP whose rows add up to
the raw prediction, feature_importance() by gain, SHAP or permutation, report() shows the
run folder's report inline."""

import numpy as np
import pandas as pd
import pytest

import automl
from automl import AutoML
from automl.errors import NotFittedError


def regression_frame(n=300):
    rng = np.random.default_rng(0)
    signal = rng.uniform(0, 10, n)
    kind = rng.choice(["a", "b", "c"], n)
    noise = rng.uniform(0, 1, n)
    y = 2 * signal + np.where(kind == "b", 7.0, 0.0) + rng.normal(0, 0.1, n)
    return pd.DataFrame({"signal": signal, "kind": kind, "noise": noise}), pd.Series(y, name="y")


def test_explain_adds_up_to_the_prediction_and_shap_importance_ranks_the_signal(tmp_path):
    X, y = regression_frame()
    m = AutoML(learners=["gbdt"], max_trials=3, time_budget=None, concurrency=1, verbose=False).fit(X, y)
    e = m.explain(X)
    assert isinstance(e, pd.DataFrame) and len(e) == len(X)
    assert list(e.columns) == ["shap:signal", "shap:kind", "shap:noise", "base_value", "raw_prediction"]
    total = e[["shap:signal", "shap:kind", "shap:noise", "base_value"]].sum(axis=1)
    np.testing.assert_allclose(total, e["raw_prediction"], atol=1e-9)
    np.testing.assert_allclose(e["raw_prediction"], m.predict(X), atol=1e-9)
    shap = m.feature_importance(X, method="shap")
    assert list(shap["feature"]) [0] == "signal" and list(shap["feature"])[-1] == "noise"
    perm = m.feature_importance(X, y, method="permutation", repeats=2)
    assert perm["feature"].iloc[0] == "signal"
    assert perm.set_index("feature").loc["noise", "importance"] < 0.1 * perm["importance"].iloc[0]
    assert {"feature", "gain", "splits"} <= set(m.feature_importance().columns)
    with pytest.raises(ValueError, match="method must be"):
        m.feature_importance(X, method="lime")


def test_a_model_without_trees_is_refused_with_what_to_do():
    X, y = regression_frame(120)
    m = AutoML(learners=["linear"], max_trials=2, time_budget=None, verbose=False).fit(X, y)
    with pytest.raises(automl.ConfigError, match="permutation"):
        m.explain(X)
    # Permutation importance works for any model.
    assert m.feature_importance(X, y, method="permutation", repeats=1)["feature"].iloc[0] == "signal"


def test_report_shows_the_run_folders_report_inline_and_saves_it(tmp_path):
    X, y = regression_frame(150)
    with pytest.raises(NotFittedError, match="out="):
        AutoML(max_trials=2, time_budget=None, verbose=False).fit(X, y).report()
    out = tmp_path / "run"
    m = AutoML(max_trials=3, time_budget=None, verbose=False, out=out).fit(X, y)
    r = m.report()
    assert (out / "report.html").exists() and (out / "model.automl").exists()
    assert r.html.startswith("<!DOCTYPE html>") and "<h2>Leaderboard</h2>" in r.html
    inline = r._repr_html_()
    assert inline.startswith("<iframe srcdoc=") and "&lt;h2&gt;Leaderboard&lt;/h2&gt;" in inline
    m.save_report(tmp_path / "copy.html")
    assert (tmp_path / "copy.html").read_text(encoding="utf-8") == r.html
    # A second fit into the same folder replaces the run.
    AutoML(max_trials=2, time_budget=None, verbose=False, out=out).fit(X, y)
