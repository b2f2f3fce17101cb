"""automl: AutoML for tables, in Rust.

>>> from automl import AutoML
>>> m = AutoML(time_budget=30).fit(df, target="species")   # doctest: +SKIP
>>> m.leaderboard()                                         # doctest: +SKIP

The engine is the one behind the ``automl`` command: the same profiling, preprocessing,
learners and search, and the same ``model.automl`` files.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Optional

from . import _automl
from ._data import input_kind, to_frame
from .errors import (
    AutoMLError,
    ClusterError,
    ConfigError,
    DataError,
    ModelFileError,
    NotFittedError,
    PluginError,
    TrialsFailedError,
)
from .estimator import AutoML, Report

__version__: str = _automl.__version__

__all__ = [
    "AutoML",
    "AutoMLError",
    "ClusterError",
    "ConfigError",
    "DataError",
    "ModelFileError",
    "NotFittedError",
    "PluginError",
    "Report",
    "TrialsFailedError",
    "learners",
    "metrics",
    "profile",
]


def learners() -> List[Dict[str, Any]]:
    """The learners the search can use: name, description and tasks."""
    return [{"name": n, "description": d, "tasks": t} for n, d, t in _automl.learners()]


def metrics() -> List[Dict[str, Any]]:
    """The built-in metrics and whether higher is better."""
    return [{"name": n, "higher_is_better": h} for n, h in _automl.metrics()]


def profile(data: Any, target: Optional[str] = None, task: str = "auto") -> Dict[str, Any]:
    """Profiles a DataFrame or CSV file as ``automl profile`` does: column kinds,
    statistics and data warnings (missing values, ID-like or constant columns, imbalance,
    leakage)."""
    if input_kind(data) == "path":
        return json.loads(_automl.profile(os.fspath(data), os.fspath(data), target, task))
    frame = to_frame(data)
    return json.loads(_automl.profile(frame, f"{input_kind(data)} DataFrame", target, task))
