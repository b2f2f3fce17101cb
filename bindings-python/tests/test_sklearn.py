"""scikit-learn conventions: params, clone, Pipeline, cross_val_score."""

from __future__ import annotations

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone, is_classifier  # noqa: E402
from sklearn.model_selection import cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import automl  # noqa: E402
from conftest import QUICK  # noqa: E402


def data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    return X, y


def test_get_set_params_and_clone():
    m = automl.AutoML(time_budget=7, metric="accuracy", learners=["gbdt"])
    params = m.get_params()
    assert params["time_budget"] == 7 and params["metric"] == "accuracy" and params["learners"] == ["gbdt"]
    m.set_params(time_budget=3)
    assert m.time_budget == 3
    c = clone(m)
    assert c.get_params() == m.get_params() and c is not m
    with pytest.raises(ValueError):
        m.set_params(no_such_param=1)


def test_clone_of_a_fitted_model_is_unfitted():
    X, y = data()
    m = automl.AutoML(**QUICK).fit(X, y)
    c = clone(m)
    assert not hasattr(c, "model_")


def test_pipeline_and_cross_val_score():
    X, y = data()
    pipe = make_pipeline(StandardScaler(), automl.AutoML(**{**QUICK, "max_trials": 4}))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.85


def test_explicit_task_sets_the_estimator_type():
    assert is_classifier(automl.AutoML(task="binary"))
    assert not is_classifier(automl.AutoML(task="regression"))
