"""Fitting (mirrors automl/src/experiment.rs): budgets, the target's forms, interruption."""

from __future__ import annotations

import os
import signal
import threading
import time
import warnings

import numpy as np
import pandas as pd
import polars as pl
import pytest

import automl
from conftest import QUICK


def test_fit_with_target_column_and_with_x_y_agree(penguins_csv):
    df = pl.read_csv(penguins_csv)
    a = automl.AutoML(**QUICK, seed=3).fit(df, target="species")
    b = automl.AutoML(**QUICK, seed=3).fit(df.drop("species"), df["species"])
    assert a.best_config == b.best_config
    assert a.best_score == pytest.approx(b.best_score)
    assert list(a.feature_names_in_) == list(b.feature_names_in_) == [c for c in df.columns if c != "species"]


def test_max_trials_is_respected(titanic_csv):
    m = automl.AutoML(time_budget=60, max_trials=5, concurrency=1, verbose=False).fit(titanic_csv, target="survived")
    assert len(m.trials_) == 5
    assert m.summary_["stop_reason"] == "max_trials"


def test_regression_on_numpy():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5))
    y = 3 * X[:, 0] - 2 * X[:, 1] + rng.normal(scale=0.1, size=400)
    m = automl.AutoML(**QUICK).fit(X, y)
    assert m.task_ == "regression"
    assert not hasattr(m, "classes_")
    assert m.score(X, y) > 0.95
    with pytest.raises(AttributeError, match="only available for classification"):
        m.predict_proba(X)


def test_integer_and_boolean_targets_come_back_with_their_type():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3))
    y_int = (X[:, 0] > 0).astype(np.int64)
    m = automl.AutoML(**QUICK).fit(X, y_int)
    assert m.classes_.tolist() == [0, 1] and m.predict(X).dtype.kind == "i"
    m = automl.AutoML(**QUICK).fit(X, y_int.astype(bool))
    assert m.predict(X).dtype == np.bool_
    assert m.score(X, y_int.astype(bool)) > 0.9


def test_keyboard_interrupt_keeps_the_best_model(titanic_csv):
    df = pd.read_csv(titanic_csv)
    y = df.pop("survived")
    # SIGINT to ourselves while fit runs: what Ctrl-C or a notebook's stop button does.
    # Python's own handler, as in a terminal: a process started in the background by a
    # non-interactive shell inherits SIGINT ignored, and Python then keeps it ignored.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(2.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = automl.AutoML(time_budget=120, concurrency=1, verbose=False).fit(df, y)
    elapsed = time.monotonic() - start
    timer.cancel()
    signal.signal(signal.SIGINT, previous)
    assert m.interrupted_, (elapsed, m.summary_.get("stop_reason"), m.summary_.get("trials"))
    assert m.summary_["stop_reason"] == "interrupted"
    assert elapsed < 30, f"fit went on for {elapsed:.0f} s after the interrupt"
    assert any("interrupted" in str(w.message) for w in caught)
    assert m.score(df, y) > 0.7


def test_progress_callback_errors_do_not_lose_the_run(penguins_csv, monkeypatch):
    from automl import _display

    def broken(self, kind, payload):
        if kind == "trial":
            raise RuntimeError("display broke")

    monkeypatch.setattr(_display.Progress, "__call__", broken)
    with pytest.raises(RuntimeError, match="display broke"):
        automl.AutoML(**QUICK).fit(penguins_csv, target="species")


def test_ctrl_c_while_the_progress_display_runs_is_an_interrupt(penguins_csv, monkeypatch):
    # Ctrl-C lands in whatever Python code runs: often the progress display.
    from automl import _display

    def interrupted(self, kind, payload):
        if kind == "trial":
            raise KeyboardInterrupt

    monkeypatch.setattr(_display.Progress, "__call__", interrupted)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        m = automl.AutoML(time_budget=60, concurrency=1, verbose=False).fit(penguins_csv, target="species")
    assert m.interrupted_
    assert m.summary_["stop_reason"] == "interrupted"


def test_fit_releases_the_gil(penguins_csv):
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.01)

    t = threading.Thread(target=ticker)
    t.start()
    automl.AutoML(time_budget=3, concurrency=1, verbose=False).fit(penguins_csv, target="species")
    stop.set()
    t.join()
    # With the GIL held for the whole fit the ticker would stall for seconds.
    gaps = np.diff(ticks)
    assert len(ticks) > 100 and gaps.max() < 0.5


def test_final_fit_bags_split_models_or_refits_and_says_which(penguins_csv):
    df = pl.read_csv(penguins_csv)
    common = dict(time_budget=None, max_trials=8, concurrency=1, seed=2, verbose=False, cv=5)
    bagged = automl.AutoML(**common, final_fit="bag").fit(df, target="species")
    refit = automl.AutoML(**common, final_fit="refit").fit(df, target="species")
    assert bagged.final_fit_ == "bag"
    assert refit.final_fit_ == "refit"
    assert bagged.summary_["model"]["final_fit"] == "bag"
    assert all(m["models"] == 5 for m in bagged.summary_["model"]["members"])
    # The same trials, fitted two ways: the bag's validation score is its trials' own.
    assert bagged.best_config == refit.best_config
    proba = bagged.predict_proba(df.drop("species"))
    assert np.allclose(np.asarray(proba).sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="final_fit must be"):
        automl.AutoML(final_fit="bagging").fit(df, target="species")
