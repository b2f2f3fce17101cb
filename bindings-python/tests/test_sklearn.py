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


# ---------------------------------------------------------------- scikit-learn's own checks

from sklearn.exceptions import NotFittedError as SklearnNotFittedError  # noqa: E402
from sklearn.model_selection import cross_validate  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

# The instance for each task, and reproducible ones (one trial at a time, stopped by
# trial count, no linfa trees: tags.non_deterministic is False), which also get the checks
# that need a deterministic fit (check_pipeline_consistency). Small data: the whole suite
# takes a few seconds.
CHECKED = [
    automl.AutoML(task=task, max_trials=2, time_budget=5, verbose=False) for task in ("auto", "binary", "multiclass", "regression")
] + [
    automl.AutoML(task=task, max_trials=2, time_budget=None, concurrency=1, learners=["gbdt", "knn"], verbose=False)
    for task in ("auto", "binary", "multiclass", "regression")
]


@parametrize_with_checks(CHECKED)
def test_scikit_learn_estimator_checks_pass(estimator, check):
    check(estimator)


def test_tags_declare_what_the_estimator_does():
    from sklearn.utils import get_tags

    tags = get_tags(automl.AutoML(task="binary"))
    assert tags.estimator_type == "classifier" and not tags.classifier_tags.multi_class
    assert get_tags(automl.AutoML(task="multiclass")).classifier_tags.multi_class
    assert tags.target_tags.required and tags.input_tags.allow_nan and tags.input_tags.string and not tags.input_tags.sparse
    # A search stopped by the clock, or run in parallel, is not reproducible.
    assert tags.non_deterministic
    assert get_tags(automl.AutoML(max_trials=3, time_budget=None, concurrency=1, learners=["gbdt"])).non_deterministic is False
    # linfa's decision tree breaks ties in hash-map order (the engine's own forests are
    # reproducible, and so is the default set of learners, which leaves the linfa tree out).
    assert get_tags(automl.AutoML(max_trials=3, time_budget=None, concurrency=1, learners=["decision_tree"])).non_deterministic
    assert get_tags(automl.AutoML(max_trials=3, time_budget=None, concurrency=1, learners=["random_forest"])).non_deterministic is False


def test_predict_before_fit_raises_scikit_learns_not_fitted_error():
    for method in ("predict", "predict_proba"):
        with pytest.raises(SklearnNotFittedError, match="not fitted"):
            getattr(automl.AutoML(), method)(np.zeros((2, 2)))
    assert issubclass(automl.NotFittedError, SklearnNotFittedError)


def test_a_regressor_has_no_predict_proba():
    X, _ = data()
    m = automl.AutoML(**QUICK).fit(X, X[:, 0] * 2.0)
    assert m.task_ == "regression" and not hasattr(m, "predict_proba")
    assert not hasattr(automl.AutoML(task="regression"), "predict_proba")
    assert hasattr(automl.AutoML(), "predict_proba") and hasattr(automl.AutoML(task="binary"), "predict_proba")


def test_n_features_in_is_checked_when_predicting_from_an_array():
    X, y = data()
    m = automl.AutoML(**QUICK).fit(X, y)
    assert m.n_features_in_ == 4 and not hasattr(m, "feature_names_in_")
    for method in (m.predict, m.predict_proba, lambda X: m.score(X, y)):
        with pytest.raises(ValueError, match="X has 3 features, but AutoML is expecting 4 features as input"):
            method(X[:, :3])


def test_feature_names_in_is_set_for_frames_and_columns_are_matched_by_name():
    import pandas as pd

    X, y = data()
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    m = automl.AutoML(**QUICK).fit(df, y)
    assert list(m.feature_names_in_) == ["a", "b", "c", "d"] and m.feature_names_in_.dtype == object and m.n_features_in_ == 4
    expected = m.predict(df)
    # Order and extra columns do not matter; an array is read by position.
    assert (m.predict(df[["d", "c", "b", "a"]].assign(extra=1.0)) == expected).all()
    assert (m.predict(X) == expected).all()
    with pytest.raises(ValueError, match="missing column 'a'"):
        m.predict(df.drop(columns="a"))
    # Refitted on an array, the names go.
    m.fit(X, y)
    assert not hasattr(m, "feature_names_in_")


@pytest.mark.parametrize(
    "X, y, exc, message",
    [
        (np.zeros(20), np.arange(20) % 2, ValueError, "Reshape your data"),
        (np.ones((20, 2)) + 1j, np.arange(20) % 2, ValueError, "Complex data not supported"),
        (np.zeros((20, 0)), np.arange(20) % 2, ValueError, r"0 feature\(s\) \(shape=\(20, 0\)\) while a minimum of 1 is required"),
        (np.ones((1, 3)), [1], ValueError, "n_samples=1"),
        (np.random.default_rng(0).normal(size=(30, 2)), np.random.default_rng(1).normal(size=30), ValueError, "Unknown label type: continuous"),
        (np.random.default_rng(0).normal(size=(30, 2)), np.arange(30) % 3, ValueError, "Only binary classification is supported"),
    ],
    ids=["1-D X", "complex", "zero features", "one sample", "continuous target", "three classes"],
)
def test_inputs_scikit_learn_refuses_are_refused_with_its_messages(X, y, exc, message):
    with pytest.raises(exc, match=message):
        automl.AutoML(**QUICK, task="binary").fit(X, y)


def test_sparse_input_is_refused_as_unsupported():
    scipy_sparse = pytest.importorskip("scipy.sparse")
    X, y = data()
    with pytest.raises(TypeError, match="sparse input .* is not supported"):
        automl.AutoML(**QUICK).fit(scipy_sparse.csr_matrix(X), y)


def test_object_arrays_of_numbers_fit_as_numbers():
    X, y = data()
    m = automl.AutoML(**QUICK).fit(X.astype(object), y)
    assert {c["name"]: c["kind"] for c in m.profile()["features"]} == {f"x{i}": "numeric" for i in range(4)}
    assert (m.predict(X.astype(object)) == m.predict(X)).all()


def test_column_vector_y_warns_and_fits_like_1d():
    from sklearn.exceptions import DataConversionWarning

    X, y = data()
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        automl.AutoML(**QUICK).fit(X, y[:, None])


def test_fitted_estimators_come_back_from_parallel_workers():
    X, y = data()
    result = cross_validate(automl.AutoML(**{**QUICK, "max_trials": 3}), X, y, cv=2, n_jobs=2, return_estimator=True)
    assert result["test_score"].mean() > 0.8
    for fitted in result["estimator"]:
        assert fitted.predict(X).shape == (300,)
