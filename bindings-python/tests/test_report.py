"""Results (mirrors automl/src/report.rs): leaderboard, profile, HTML and the plot."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import polars as pl  # noqa: E402
import pytest  # noqa: E402

import automl  # noqa: E402
from conftest import QUICK  # noqa: E402


@pytest.fixture(scope="module")
def fitted(titanic_csv):
    return automl.AutoML(**QUICK).fit(pl.read_csv(titanic_csv), target="survived")


def test_leaderboard_is_ranked_and_complete(fitted):
    lb = fitted.leaderboard()
    assert isinstance(lb, pl.DataFrame)
    assert lb.height == len(fitted.trials_) == fitted.summary_["trials"]["total"]
    ok = lb.filter(pl.col("status") == "ok")["score"].to_list()
    assert ok == sorted(ok)  # log-loss: lower is better, best first
    assert lb["learner"][0] == fitted.best_config["learner"]
    assert json.loads(lb["config"][0]) == {k: v for k, v in fitted.best_config.items() if k != "learner"}


def test_leaderboard_is_pandas_when_fitted_on_pandas(titanic_csv):
    m = automl.AutoML(**{**QUICK, "max_trials": 3}).fit(pd.read_csv(titanic_csv), target="survived")
    assert isinstance(m.leaderboard(), pd.DataFrame)


def test_profile_reports_data_problems(fitted):
    p = fitted.profile()
    kinds = {w["kind"] for w in p["warnings"]}
    assert "missing_values" in kinds  # age, cabin, embarked have gaps
    assert p["target"]["name"] == "survived"


def test_html_and_plot(fitted):
    html = fitted._repr_html_()
    assert "<table>" in html and fitted.best_config["learner"] in html
    assert "not fitted" in automl.AutoML()._repr_html_()
    ax = fitted.plot()
    assert ax.get_ylabel() == "log_loss"
    assert len(ax.collections) >= 1  # one scatter per learner


def test_learners_and_metrics_lists():
    names = {l["name"] for l in automl.learners()}
    assert {"gbdt", "logistic", "random_forest"} <= names
    assert {"name": "r2", "higher_is_better": True} in automl.metrics()
