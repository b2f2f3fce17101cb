"""Exceptions raised by automl.

Every error from the engine is an :class:`AutoMLError` carrying the engine's message,
which names the file, column or row at fault and what to do. Errors about bad input or
settings are also ``ValueError`` (as scikit-learn users expect); bad argument types are
plain ``TypeError``.
"""

from __future__ import annotations

__all__ = [
    "AutoMLError",
    "DataError",
    "ConfigError",
    "ModelFileError",
    "TrialsFailedError",
    "NotFittedError",
    "PluginError",
    "ClusterError",
]


class AutoMLError(Exception):
    """Base class of every automl error."""


class DataError(AutoMLError, ValueError):
    """The data cannot be used as it is: missing or misnamed columns, wrong types, too few rows."""


class ConfigError(AutoMLError, ValueError):
    """An invalid setting: an unknown metric or learner, an impossible budget."""


class ModelFileError(AutoMLError):
    """A model file that is not an automl model, is damaged, or comes from an incompatible version."""


class TrialsFailedError(AutoMLError):
    """Every trial of a run failed; the message lists the first failures."""


try:  # With scikit-learn installed, also its NotFittedError (what its tools catch).
    from sklearn.exceptions import NotFittedError as _NotFittedBase
except ImportError:  # pragma: no cover - exercised only without scikit-learn

    class _NotFittedBase(ValueError, AttributeError):  # type: ignore[no-redef]
        pass


class NotFittedError(AutoMLError, _NotFittedBase):
    """The estimator is used before ``fit``: a ``ValueError`` and an ``AttributeError``,
    and scikit-learn's ``NotFittedError`` when scikit-learn is installed."""


class PluginError(AutoMLError):
    """A WebAssembly plugin could not be loaded (wrong world or version, not a component) or failed outside a trial."""


class ClusterError(AutoMLError):
    """A Kubernetes executor error: the cluster cannot be reached, refuses a request, or Jobs cannot be created."""
