"""Errors (mirrors automl/src/error.rs): one hierarchy carrying the engine's messages;
bad arguments are ValueError / TypeError."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import automl
from automl import errors
from conftest import QUICK


def test_hierarchy():
    for cls in (errors.DataError, errors.ConfigError, errors.ModelFileError, errors.TrialsFailedError, errors.NotFittedError, errors.PluginError, errors.ClusterError):
        assert issubclass(cls, automl.AutoMLError)
    assert issubclass(errors.DataError, ValueError) and issubclass(errors.ConfigError, ValueError)


@pytest.mark.parametrize(
    "params, exc, message",
    [
        (dict(task="clustering"), ValueError, "task must be one of"),
        (dict(time_budget=-1), ValueError, "time_budget must be positive"),
        (dict(time_budget="60"), TypeError, "time_budget must be a number"),
        (dict(max_trials=2.5), ValueError, "whole number"),
        (dict(cv=1), ValueError, "cv must be an int >= 2"),
        (dict(executor="slurm"), ValueError, "executor must be one of"),
        (dict(kubernetes={"namespace": "ml"}), ValueError, "add executor='kubernetes'"),
        (dict(executor="kubernetes", kubernetes="ml"), TypeError, "kubernetes must be a dict"),
        (dict(plugins="x.wasm"), TypeError, "list of paths"),
        (dict(learners="gbdt"), TypeError, "list of learner names"),
    ],
)
def test_bad_arguments(params, exc, message):
    with pytest.raises(exc, match=message):
        automl.AutoML(**{**QUICK, **params}).fit(np.zeros((10, 2)), np.arange(10))


def test_engine_config_errors_are_config_errors(penguins_csv):
    with pytest.raises(automl.ConfigError, match="accuracyy"):
        automl.AutoML(**QUICK, metric="accuracyy").fit(penguins_csv, target="species")
    with pytest.raises(automl.ConfigError, match="unknown learner"):
        automl.AutoML(**QUICK, learners=["boosted_magic"]).fit(penguins_csv, target="species")


def test_missing_target_column_is_named(penguins_csv):
    with pytest.raises(ValueError, match="'specie' is not in X"):
        automl.AutoML(**QUICK).fit(pl.read_csv(penguins_csv), target="specie")
    with pytest.raises(automl.DataError, match="specie"):
        automl.AutoML(**QUICK).fit(penguins_csv, target="specie")


def test_a_missing_csv_is_a_data_error(tmp_path):
    with pytest.raises(automl.DataError, match="nope.csv"):
        automl.AutoML(**QUICK).fit(tmp_path / "nope.csv", target="y")


def test_not_fitted():
    with pytest.raises(automl.NotFittedError, match="not fitted"):
        automl.AutoML().predict(np.zeros((2, 2)))


def test_too_few_rows_is_a_data_error():
    with pytest.raises(automl.DataError):
        automl.AutoML(**QUICK).fit(np.zeros((3, 2)), [0, 1, 0])
