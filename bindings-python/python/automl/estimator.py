"""`AutoML`: a scikit-learn style estimator over the Rust engine."""

from __future__ import annotations

import functools
import json
import math
import os
import types
import warnings
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import polars as pl

from . import _automl
from ._data import input_kind, labels_to_array, to_frame, to_pandas, to_series
from ._display import Progress, plot_search, table_html
from .errors import ConfigError, DataError, NotFittedError

try:  # scikit-learn is optional: without it get_params/set_params come from _Params.
    from sklearn.base import BaseEstimator as _Base
except ImportError:  # pragma: no cover - exercised only without scikit-learn
    import inspect

    class _Base:  # type: ignore[no-redef]
        @classmethod
        def _get_param_names(cls) -> List[str]:
            sig = inspect.signature(cls.__init__)
            return sorted(p for p in sig.parameters if p != "self")

        def get_params(self, deep: bool = True) -> Dict[str, Any]:
            return {k: getattr(self, k) for k in self._get_param_names()}

        def set_params(self, **params: Any) -> "_Base":
            valid = self._get_param_names()
            for k, v in params.items():
                if k not in valid:
                    raise ValueError(f"invalid parameter {k!r} for {type(self).__name__}; valid: {valid}")
                setattr(self, k, v)
            return self


_TASKS = ("auto", "binary", "multiclass", "regression")
_EXECUTORS = ("local", "kubernetes")

Data = Any  # pandas / polars DataFrame, numpy array, dict of columns, or a CSV path


class _ClassifierMethod:
    """A method that exists unless the estimator is a regressor (``hasattr`` is then False,
    as with scikit-learn's ``available_if``): ``predict_proba``."""

    def __init__(self, fn: Any):
        self.fn = fn
        self.name = fn.__name__
        functools.update_wrapper(self, fn)

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self.fn
        if obj._task() == "regression":
            raise AttributeError(f"{self.name} is only available for classification; this {type(obj).__name__} is a regressor")
        return types.MethodType(self.fn, obj)


def _engine_options(options: Dict[str, Any]) -> str:
    """The options as the engine reads them (JSON; the engine holds the defaults and checks
    the values, as for the CLI): unset ones are left out, and no time budget is 0."""
    sent = {k: v for k, v in options.items() if v is not None}
    if options.get("time_budget", 0) is None:
        sent["time_budget"] = 0
    return json.dumps(sent)


class AutoML(_Base):
    """Searches learners and hyperparameters for a table under a budget.

    Parameters
    ----------
    task : "auto", "binary", "multiclass" or "regression"
        Inferred from the target when "auto".
    metric : str, optional
        Objective: accuracy, balanced_accuracy, macro_f1, roc_auc, log_loss, rmse, mae, r2.
        Default: log_loss for classification, r2 for regression.
    time_budget : float or None
        Seconds for the whole fit (hard limit, the final refit included). None: no time limit
        (then set max_trials, target_score or patience).
    max_trials, target_score, patience : optional budgets
        Stop after this many trials / once a trial reaches this score / after this many
        trials without improvement.
    cv : int or float, optional
        An int k >= 2: k-fold cross-validation; a float in (0, 1): that share held out.
        Default: 5-fold under 10,000 rows, else a 20% holdout.
    concurrency : int, optional
        Trials at once (default: the number of cores).
    seed : int
        Seed for splits, search and learners.
    plugins : sequence of paths
        WebAssembly plugins (``.wasm`` components built against ``plugins-wit``): a
        preprocessor, a metric (select it with ``metric="its name"``) or a stopping rule.
        They run sandboxed: no files, network, environment or clock, 256 MiB, 30 s a call.
    executor : "local" or "kubernetes"
        Where trials run: threads here, or each trial a Kubernetes Job on the cluster of
        your kubeconfig (fit on a CSV path the pods can read; see ``kubernetes``).
    kubernetes : dict, optional
        With ``executor="kubernetes"``: the ``automl run`` Kubernetes options, with
        underscores: ``namespace``, ``image``, ``gpus``, ``cpu``, ``memory``,
        ``node_selector`` (a dict), ``tolerations`` (``["nvidia.com/gpu:NoSchedule"]``),
        ``priority_class``, ``service_account``, ``data_pvc`` (``"CLAIM[:MOUNT]"``),
        ``data_path``, ``data_url``, ``keep_jobs``, ``backoff_limit``, ``job_ttl``,
        ``startup_allowance``, ``unschedulable_timeout``, ``image_pull_policy``,
        ``gpu_resource``, ``prepared_dir`` and ``prepared_claim`` (the data parsed
        once, for every trial pod to read instead of the CSV).
    learners : sequence of str, optional
        Restrict the search to these learners (see ``automl.learners()``).
    trial_time_limit : float, optional
        Seconds one trial may take (default: a third of the budget).
    early_stopping : bool
        Stop poor trials early (median rule).
    ensemble : bool
        Make the model a weighted ensemble of the best trials when that beats the best
        trial alone on the validation rows (greedy selection, as AutoGluon does).
    final_fit : "auto", "refit" or "bag"
        How the model's configurations are fitted at the end: "refit" fits each again on
        all rows; "bag" keeps its models of the validation splits and averages them (as
        AutoGluon's bagged models: no refit time, k times the prediction time); "auto"
        bags under k-fold validation, best configuration first, while the model is
        expected to predict 100,000 rows in at most 1.5 s, and refits the others.
    search : "tpe" or "random"
        How configurations are drawn within a learner.
    verbose : bool or None
        Progress: None shows it in notebooks and terminals only, True always, False never.
    out : path, optional
        A folder for the run's record, as ``automl run --out`` writes it (journal,
        leaderboard.csv, model.automl, report.html; replaced by the next fit). ``report()``
        shows its report; ``automl resume`` continues it.
    """

    def __init__(
        self,
        task: str = "auto",
        metric: Optional[str] = None,
        time_budget: Optional[float] = 60,
        max_trials: Optional[int] = None,
        cv: Optional[Union[int, float]] = None,
        concurrency: Optional[int] = None,
        seed: int = 0,
        plugins: Sequence[str] = (),
        executor: str = "local",
        kubernetes: Optional[Dict[str, Any]] = None,
        target_score: Optional[float] = None,
        patience: Optional[int] = None,
        learners: Optional[Sequence[str]] = None,
        trial_time_limit: Optional[float] = None,
        early_stopping: bool = True,
        ensemble: bool = True,
        final_fit: str = "auto",
        search: str = "tpe",
        verbose: Optional[bool] = None,
        out: Optional[Union[str, os.PathLike]] = None,
    ):
        self.task = task
        self.metric = metric
        self.time_budget = time_budget
        self.max_trials = max_trials
        self.cv = cv
        self.concurrency = concurrency
        self.seed = seed
        self.plugins = plugins
        self.executor = executor
        self.kubernetes = kubernetes
        self.target_score = target_score
        self.patience = patience
        self.learners = learners
        self.trial_time_limit = trial_time_limit
        self.early_stopping = early_stopping
        self.ensemble = ensemble
        self.final_fit = final_fit
        self.search = search
        self.verbose = verbose
        self.out = out

    # ---------------------------------------------------------------- settings

    def _options(self) -> Dict[str, Any]:
        def number(name: str, value: Any, integer: bool = False, positive: bool = True) -> Any:
            if value is None:
                return None
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise TypeError(f"{name} must be a number, got {type(value).__name__}")
            if not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value}")
            if integer and int(value) != value:
                raise ValueError(f"{name} must be a whole number, got {value}")
            if positive and not value > 0:
                raise ValueError(f"{name} must be positive, got {value}")
            return int(value) if integer else float(value)

        if self.task not in _TASKS:
            raise ValueError(f"task must be one of {_TASKS}, got {self.task!r}")
        if self.executor not in _EXECUTORS:
            raise ValueError(f"executor must be one of {_EXECUTORS}, got {self.executor!r}")
        if self.kubernetes is not None and not isinstance(self.kubernetes, dict):
            raise TypeError(f"kubernetes must be a dict of options, got {type(self.kubernetes).__name__}")
        if self.kubernetes and self.executor != "kubernetes":
            raise ValueError("kubernetes options are given but executor is 'local'; add executor='kubernetes'")
        if isinstance(self.plugins, (str, os.PathLike)):
            raise TypeError("plugins must be a list of paths to .wasm components, not a single path")
        if self.final_fit not in ("auto", "refit", "bag"):
            raise ValueError(f"final_fit must be 'auto', 'refit' or 'bag', got {self.final_fit!r}")
        if self.search not in ("tpe", "random"):
            raise ValueError(f"search must be 'tpe' or 'random', got {self.search!r}")
        if self.metric is not None and not isinstance(self.metric, str):
            raise TypeError(f"metric must be a metric name (str), got {type(self.metric).__name__}")
        if isinstance(self.learners, str):
            raise TypeError("learners must be a list of learner names, not a str")
        opts: Dict[str, Any] = {
            "task": self.task,
            "metric": self.metric,
            "time_budget": number("time_budget", self.time_budget),
            "max_trials": number("max_trials", self.max_trials, integer=True),
            "target_score": number("target_score", self.target_score, positive=False),
            "patience": number("patience", self.patience, integer=True),
            "concurrency": number("concurrency", self.concurrency, integer=True),
            "seed": number("seed", self.seed, integer=True, positive=False),
            "learners": None if self.learners is None else [str(x) for x in self.learners],
            "trial_time_limit": number("trial_time_limit", self.trial_time_limit),
            "early_stopping": bool(self.early_stopping),
            "ensemble": bool(self.ensemble),
            "final_fit": self.final_fit,
            "search": self.search,
            "plugins": [os.fspath(p) for p in self.plugins],
        }
        if self.out is not None:
            opts["out"] = os.fspath(self.out)
            opts["force"] = True
        opts["executor"] = self.executor
        if self.executor == "kubernetes":
            opts["kubernetes"] = dict(self.kubernetes or {})
        if opts["seed"] is not None and opts["seed"] < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        cv = self.cv
        if cv is not None:
            if isinstance(cv, bool) or not isinstance(cv, (int, float, np.integer, np.floating)):
                raise TypeError(f"cv must be an int (folds) or a float (holdout share), got {type(cv).__name__}")
            if float(cv).is_integer() and cv >= 2:
                opts["folds"] = int(cv)
            elif 0 < cv < 1:
                opts["holdout"] = float(cv)
            else:
                raise ValueError(f"cv must be an int >= 2 (folds) or a float in (0, 1) (holdout share), got {cv}")
        return opts

    # ---------------------------------------------------------------- fitting

    def fit(self, X: Data, y: Any = None, *, target: Optional[str] = None) -> "AutoML":
        """Searches on ``X`` and ``y``, on a DataFrame with a ``target`` column, or on a CSV
        path with a ``target`` column. Returns ``self``.

        Ctrl-C (or a notebook's stop button) ends the search early: the best model so far is
        kept and a warning says so.
        """
        options = self._options()
        kind = input_kind(X)
        label_dtype = None
        if kind == "path":
            if y is not None or target is None:
                raise ValueError("fit on a CSV path takes target='column', not y")
            data, source, names = os.fspath(X), os.fspath(X), None
        else:
            frame = to_frame(X)
            if frame.width == 0:
                shape = getattr(X, "shape", (frame.height, 0))
                raise DataError(f"X has 0 feature(s) (shape={tuple(shape)}) while a minimum of 1 is required.")
            if y is not None:
                if target is not None:
                    raise ValueError("give either y or target, not both")
                series, label_dtype = to_series(y)
                if len(series) != frame.height:
                    raise ValueError(f"X has {frame.height} rows but y has {len(series)}")
                target = series.name or "y"
                if not target or target in frame.columns:
                    target = "__target__"
                names = list(frame.columns)
                frame = frame.with_columns(series.alias(target))
            else:
                if target is None:
                    raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None: give y, or target='column' naming the target column of X")
                if target not in frame.columns:
                    raise ValueError(f"target column {target!r} is not in X; columns: {frame.columns[:20]}")
                label_dtype = frame[target].head(0).to_numpy().dtype
                names = [c for c in frame.columns if c != target]
            self._check_data(frame, target, names, options["task"])
            data, source = frame, f"{kind} DataFrame" if kind in ("pandas", "polars") else f"{kind} input"
        progress = Progress(self.verbose, options["time_budget"], options["metric"])
        try:
            model, summary, trials, timeline, interrupted = _automl.fit(data, target, source, _engine_options(options), progress)
        finally:
            progress.close()
        self.model_ = model
        self.summary_: Dict[str, Any] = json.loads(summary)
        self.trials_: List[Dict[str, Any]] = json.loads(trials)
        self.timeline_: Dict[int, float] = {int(i): float(t) for i, t in timeline}
        self.profile_: Dict[str, Any] = progress.profile or {}
        self.interrupted_ = bool(interrupted)
        self._input_kind = kind
        self._label_dtype = label_dtype
        self._set_model_attributes(names, has_names=kind != "numpy")
        if interrupted:
            warnings.warn(f"fit interrupted after {len(self.trials_)} trials; keeping the best model so far ({model.learner}, {model.metric} {model.validation_score:.4f})", RuntimeWarning, stacklevel=2)
        return self

    @staticmethod
    def _check_data(frame: pl.DataFrame, target: str, names: List[str], task: str) -> None:
        """What scikit-learn's conventions refuse before the engine sees the data, with
        the messages they expect: no feature, one sample, a continuous target for a
        classifier, several classes for a binary one."""
        if not names:
            raise DataError(f"X has 0 feature(s) (shape=({frame.height}, 0)) while a minimum of 1 is required.")
        if frame.height == 1:
            raise DataError("X has 1 sample (n_samples=1): a model needs rows to train on and rows to validate on; give more rows")
        labels = frame[target].drop_nulls()
        if labels.dtype.is_float():
            labels = labels.drop_nans()
        if task in ("binary", "multiclass") and labels.dtype.is_float():
            fractional = labels.filter(labels != labels.floor())
            if len(fractional):
                raise DataError(
                    f"Unknown label type: continuous target (values such as {fractional[0]}) for task={task!r}; "
                    "give class labels, or use task='regression' (or 'auto')"
                )
        if task == "binary":
            classes = labels.n_unique()
            if classes > 2:
                raise DataError(f"Only binary classification is supported with task='binary', but the target has {classes} classes; use task='multiclass' (or 'auto')")

    def _set_model_attributes(self, names: Optional[List[str]], has_names: bool = True) -> None:
        """Attributes from the fitted model. ``feature_names_in_`` only when the input had
        column names (a frame or a CSV file), as scikit-learn sets it."""
        model = self.model_
        self.task_ = model.task
        if model.task != "regression":
            self.classes_ = labels_to_array(model.labels, self._label_dtype)
        else:
            self.__dict__.pop("classes_", None)
        self._feature_names: List[str] = list(names if names is not None else model.inputs)
        self.n_features_in_ = len(self._feature_names)
        if has_names:
            self.feature_names_in_ = np.array(self._feature_names, dtype=object)
        else:
            self.__dict__.pop("feature_names_in_", None)

    def __sklearn_is_fitted__(self) -> bool:
        return getattr(self, "model_", None) is not None

    def _check_fitted(self) -> Any:
        model = getattr(self, "model_", None)
        if model is None:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit first")
        return model

    def _task(self) -> str:
        """The fitted task, else the ``task`` parameter."""
        return getattr(self, "task_", None) or self.task

    # ---------------------------------------------------------------- predicting

    def _frame_for_predict(self, X: Data) -> pl.DataFrame:
        """The columns to predict from. A frame's columns are matched by name (order and
        extra columns do not matter; missing ones are named in the error); a bare array's
        by position, so it must have ``n_features_in_`` columns."""
        kind = input_kind(X)
        if kind == "path":
            return pl.read_csv(os.fspath(X), infer_schema=False)
        frame = to_frame(X)
        names = self._feature_names
        by_position = kind == "numpy"
        if not by_position and not hasattr(self, "feature_names_in_") and not set(self.model_.inputs) <= set(frame.columns):
            # Fitted on an array (columns x0, x1, ...), given a frame with other names.
            by_position = True
            if frame.width == len(names):
                warnings.warn(f"X has feature names, but {type(self).__name__} was fitted without feature names; its columns are taken in order", UserWarning, stacklevel=4)
        if by_position:
            if frame.width != len(names):
                raise ValueError(f"X has {frame.width} features, but {type(self).__name__} is expecting {len(names)} features as input")
            frame = frame.rename(dict(zip(frame.columns, names)))
        return frame

    def _raw(self, X: Data) -> np.ndarray:
        model = self._check_fitted()
        return model.predict(self._frame_for_predict(X), self._source(X))

    def predict(self, X: Data) -> np.ndarray:
        """Predicted labels (classification) or values (regression), one per row."""
        raw = self._raw(X)
        if raw.ndim == 2:
            return self.classes_[np.argmax(raw, axis=1)]
        return raw

    @_ClassifierMethod
    def predict_proba(self, X: Data) -> np.ndarray:
        """Class probabilities, rows x classes, columns in ``classes_`` order (classifiers
        only: a regressor has no ``predict_proba``)."""
        self._check_fitted()
        return self._raw(X)

    def score(self, X: Data, y: Any, sample_weight: Any = None) -> float:
        """Accuracy for classification, R² for regression (scikit-learn's conventions)."""
        pred = self.predict(X)
        truth, _ = to_series(y)
        t = truth.to_numpy()
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        if self.model_.task == "regression":
            t = t.astype(float)
            resid = np.average((t - pred) ** 2, weights=w)
            total = np.average((t - np.average(t, weights=w)) ** 2, weights=w)
            return float(1.0 - resid / total) if total > 0 else 0.0
        if pred.dtype.kind != t.dtype.kind:
            t = labels_to_array([str(v) for v in t], pred.dtype if pred.dtype.kind != "O" else None)
            if t.dtype.kind != pred.dtype.kind:
                pred, t = pred.astype(str), t.astype(str)
        return float(np.average(pred == t, weights=w))

    # ---------------------------------------------------------------- results

    def leaderboard(self) -> Any:
        """Every trial, best first: a polars DataFrame, or pandas when fitted on pandas."""
        self._check_fitted()
        trials = getattr(self, "trials_", None)
        if trials is None:
            raise NotFittedError("this model was loaded from a file: its leaderboard is the run's leaderboard.csv")
        # Metric plugins that are not the objective: one column each, after the message.
        extra = sorted({name for t in trials for name in t.get("extra_scores", {})})
        base = ("rank", "trial", "learner", "status", "score", "score_std", "fit_time_s", "finished_s", "config", "message")
        column = {name: f"{name}_plugin" if name in base else name for name in extra}
        rows = []
        for rank, t in enumerate(trials, 1):
            rows.append({
                "rank": rank,
                "trial": t["trial"],
                "learner": t["learner"],
                "status": t["status"],
                "score": t.get("score"),
                "score_std": t.get("score_std"),
                "fit_time_s": t.get("fit_time_s"),
                "finished_s": self.timeline_.get(t["trial"]),
                "config": json.dumps(t.get("hyperparameters", {}), sort_keys=True),
                "message": t.get("message"),
                **{column[name]: t.get("extra_scores", {}).get(name) for name in extra},
            })
        schema = {"rank": pl.Int64, "trial": pl.Int64, "learner": pl.String, "status": pl.String, "score": pl.Float64, "score_std": pl.Float64, "fit_time_s": pl.Float64, "finished_s": pl.Float64, "config": pl.String, "message": pl.String}
        schema.update({column[name]: pl.Float64 for name in extra})
        df = pl.DataFrame(rows, schema=schema)
        if self._input_kind == "pandas":
            return to_pandas(df)
        return df

    def profile(self) -> Dict[str, Any]:
        """The data profile: column kinds, statistics and warnings (as ``profile.json``)."""
        self._check_fitted()
        return getattr(self, "profile_", {})

    @property
    def best_config(self) -> Dict[str, Any]:
        """The best trial's learner and hyperparameters (the model, or the best-ranked
        candidate of an ensemble: see ``ensemble_``)."""
        model = self._check_fitted()
        return {"learner": model.best_learner, **json.loads(model.best_config_json)}

    @property
    def best_score(self) -> float:
        """Validation score of the best trial (``model_score_`` is the model's)."""
        return float(self._check_fitted().best_score)

    @property
    def model_score_(self) -> float:
        """Validation score of the model: an ensemble's on the out-of-fold rows, else the
        best trial's."""
        return float(self._check_fitted().validation_score)

    @property
    def ensemble_(self) -> Optional[List[Dict[str, Any]]]:
        """The members of the model as dicts of trial, learner, weight and fit (``"bag"`` or
        ``"refit"``), largest weight first, when the model is a weighted ensemble of the
        best trials; else None."""
        model = self._check_fitted()
        members = model.members
        if len(members) < 2:
            return None
        return [{"trial": t, "learner": l, "weight": w, "fit": f} for (t, l, w), f in zip(members, model.member_fits)]

    @property
    def final_fit_(self) -> str:
        """How the model's configurations were fitted: ``"bag"`` (their split models
        averaged), ``"refit"`` (fitted again on all rows) or ``"mixed"``."""
        fits = set(self._check_fitted().member_fits)
        return fits.pop() if len(fits) == 1 else "mixed"

    def feature_importance(self, X: Optional[Data] = None, y: Any = None, *, method: str = "gain", repeats: int = 5, seed: int = 0, trial: Optional[int] = None) -> Any:
        """Importance per input feature, most important first.

        ``method="gain"`` (no data needed): the booster's split gain and split count.
        ``"shap"``: mean absolute TreeSHAP contribution on the rows of ``X`` (boosters and
        forests; ``trial`` picks one configuration of an ensemble, see ``explain``).
        ``"permutation"``: the score lost when a column of ``X`` is shuffled, against the
        true ``y``, ``repeats`` times (any model; columns ``importance`` and ``std``).
        """
        model = self._check_fitted()
        if method == "gain":
            rows = [{"feature": f, "gain": g, "splits": s} for f, g, s in model.feature_importance()]
            df = pl.DataFrame(rows, schema={"feature": pl.String, "gain": pl.Float64, "splits": pl.Int64})
        elif method == "shap":
            if X is None:
                raise ValueError("method='shap' needs X: the rows to explain")
            _, _, importance, _ = model.explain(self._frame_for_predict(X), self._source(X), trial)
            df = pl.DataFrame([{"feature": f, "importance": v} for f, v in importance], schema={"feature": pl.String, "importance": pl.Float64})
        elif method == "permutation":
            if X is None or y is None:
                raise ValueError("method='permutation' needs X and the true y")
            frame = self._frame_for_predict(X)
            series, _ = to_series(y)
            if len(series) != frame.height:
                raise ValueError(f"X has {frame.height} rows but y has {len(series)}")
            frame = frame.with_columns(series.cast(pl.String).alias(model.target))
            _, _, rows = model.permutation_importance(frame, self._source(X), int(repeats), int(seed))
            df = pl.DataFrame([{"feature": f, "importance": m, "std": s} for f, m, s in rows], schema={"feature": pl.String, "importance": pl.Float64, "std": pl.Float64})
        else:
            raise ValueError(f"method must be 'gain', 'shap' or 'permutation', got {method!r}")
        return to_pandas(df) if getattr(self, "_input_kind", None) == "pandas" else df

    def explain(self, X: Data, *, trial: Optional[int] = None) -> Any:
        """Exact TreeSHAP contributions of each input column to every row's prediction,
        as a DataFrame: ``shap:COLUMN`` per column, ``base_value`` and ``raw_prediction``
        (with several classes, ``shap:CLASS:COLUMN`` and so on); each row's contributions
        plus its base value equal its raw prediction (the value, a booster's log-odds or a
        forest's probability). Models of boosters and forests; ``trial`` explains one
        configuration of an ensemble (``ensemble_`` lists them)."""
        model = self._check_fitted()
        names, values, _, _ = model.explain(self._frame_for_predict(X), self._source(X), trial)
        df = pl.DataFrame(np.asarray(values), schema=names, orient="row")
        return to_pandas(df) if getattr(self, "_input_kind", None) == "pandas" else df

    def report(self) -> "Report":
        """The run's HTML report (``out/report.html``): shown inline in Jupyter, or
        ``.save(path)``. Needs a fit with ``out=`` set."""
        self._check_fitted()
        if self.out is None or not os.path.exists(os.path.join(os.fspath(self.out), "report.html")):
            raise NotFittedError("report() shows the run folder's report: fit with AutoML(out='some/folder') to write it")
        return Report(os.path.join(os.fspath(self.out), "report.html"))

    def save_report(self, path: Union[str, os.PathLike]) -> None:
        """Writes the run's report (one self-contained HTML file) to ``path``."""
        self.report().save(path)

    def _source(self, X: Data) -> str:
        return f"{input_kind(X)} input" if input_kind(X) != "path" else os.fspath(X)

    def plot(self, ax: Any = None) -> Any:
        """Score of each trial over time per learner, and the best so far (matplotlib Axes)."""
        model = self._check_fitted()
        if getattr(self, "trials_", None) is None:
            raise NotFittedError("this model was loaded from a file: it has no search history to plot")
        higher = self.summary_.get("direction") == "maximize"
        return plot_search(self.trials_, self.timeline_, model.metric, higher, ax)

    def _repr_html_(self) -> str:
        model = getattr(self, "model_", None)
        if model is None:
            params = {k: v for k, v in self.get_params().items() if v not in (None, (), [])}
            return f"<div><b>AutoML</b> (not fitted) <code>{json.dumps(params, default=str)}</code></div>"
        head = (
            f"<div><b>AutoML</b>: {model.task} on <code>{model.target}</code>, {model.rows} rows. "
            f"Best <b>{model.learner}</b>, {model.metric} = {model.validation_score:.4f}"
        )
        trials = getattr(self, "trials_", None)
        if trials is None:
            return head + " (loaded from a file)</div>"
        s = self.summary_
        head += f" after {len(trials)} trials in {s['seconds']['total']:.1f} s (stopped: {s['stop_reason']}).</div>"
        rows = [{"rank": i + 1, **t} for i, t in enumerate(trials[:10])]
        return head + table_html(rows, ["rank", "trial", "learner", "status", "score", "fit_time_s", "hyperparameters"])

    def _repr_mimebundle_(self, **kwargs: Any) -> Dict[str, str]:
        # Jupyter asks for this before _repr_html_ (scikit-learn defines both).
        return {"text/plain": repr(self), "text/html": self._repr_html_()}

    # ---------------------------------------------------------------- files

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Writes ``model.automl``: the same file the CLI writes, usable by ``automl predict``."""
        self._check_fitted().save(os.fspath(path))

    @classmethod
    def load(cls, path: Union[str, os.PathLike]) -> "AutoML":
        """Reads a model written by ``save`` or by ``automl run``."""
        model = _automl.Model.load(os.fspath(path))
        self = cls(task=model.task)
        self.model_ = model
        self._input_kind = "polars"
        self._label_dtype = None
        self._set_model_attributes(None, has_names=True)
        return self

    def _reproducible(self) -> bool:
        """Whether a fit gives the same model for the same data and seed: one trial at a
        time, stopped by trial count or score rather than the clock, here, without plugins,
        and without linfa's decision tree (which breaks ties in hash-map order; it is not
        among the default learners)."""
        try:
            learners = None if self.learners is None else {str(x) for x in self.learners}
            return (
                self.concurrency == 1
                and self.time_budget is None
                and self.trial_time_limit is None
                and self.executor == "local"
                and not self.plugins
                and (learners is None or "decision_tree" not in learners)
            )
        except TypeError:  # invalid settings: fit says so
            return False

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        task = self._task()
        try:
            from sklearn.utils import ClassifierTags, RegressorTags
        except ImportError:  # scikit-learn < 1.6
            return tags
        if task in ("binary", "multiclass"):
            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags(multi_class=self.task != "binary")
        elif task == "regression":
            tags.estimator_type = "regressor"
            tags.regressor_tags = RegressorTags()
        tags.target_tags.required = True
        tags.non_deterministic = not self._reproducible()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.input_tags.sparse = False
        return tags


class Report:
    """A run's HTML report: one self-contained file (styles, data, script and SVG charts
    inline). Jupyter shows it inline, in a frame of its own so that the notebook's styles
    and the report's do not mix."""

    def __init__(self, path: str):
        self.path = path
        with open(path, encoding="utf-8") as f:
            self.html = f.read()

    def _repr_html_(self) -> str:
        import html as _html

        return f'<iframe srcdoc="{_html.escape(self.html, quote=True)}" style="width:100%;height:900px;border:1px solid #ddd" title="automl report"></iframe>'

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Writes the report to ``path``."""
        with open(os.fspath(path), "w", encoding="utf-8") as f:
            f.write(self.html)

    def __repr__(self) -> str:
        return f"Report({self.path!r}, {len(self.html)} bytes)"
