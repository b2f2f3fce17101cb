"""Progress while fitting, HTML for notebooks, and the score-over-time plot."""

from __future__ import annotations

import html
import json
import sys
import time
from typing import Any, Dict, List, Optional


def _in_notebook() -> bool:
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:
        return False
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class Progress:
    """Receives the engine's events; shows a line in a terminal, an updating cell output in
    a notebook, nothing otherwise (or when ``verbose`` is False)."""

    def __init__(self, verbose: Optional[bool], budget: Optional[float], metric: Optional[str]):
        self.profile: Optional[Dict[str, Any]] = None
        self.trials = 0
        self.failed = 0
        self.best: Optional[float] = None
        self.best_learner = ""
        self.metric = metric
        self.budget = budget
        self.elapsed = 0.0
        self.stage = "profiling"
        self._last = 0.0
        self._handle = None
        if verbose is False:
            self.mode = None
        elif _in_notebook():
            self.mode = "notebook"
        elif verbose or sys.stderr.isatty():
            self.mode = "terminal"
        else:
            self.mode = None

    def __call__(self, kind: str, payload: Any) -> None:
        if kind == "profile":
            self.profile = json.loads(payload)
            self.stage = "searching"
        elif kind == "trial":
            trial_json, best, elapsed = payload
            trial = json.loads(trial_json)
            self.trials += 1
            self.failed += trial.get("status") not in ("ok", "early_stopped")
            if best is not None and best != self.best:
                self.best = best
                if trial.get("score") == best:
                    self.best_learner = trial.get("learner", "")
            self.elapsed = elapsed
        elif kind == "refit":
            self.stage = f"refitting {payload} on all rows"
        self._show(force=kind != "trial")

    def line(self) -> str:
        budget = f"/{self.budget:.0f}" if self.budget else ""
        best = "-" if self.best is None else f"{self.best:.4f} ({self.best_learner})"
        failed = f", {self.failed} failed" if self.failed else ""
        return f"automl: {self.stage} | trials {self.trials}{failed} | best {self.metric or 'score'} {best} | {self.elapsed:.0f}{budget} s"

    def _show(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.mode is None or (not force and now - self._last < 0.25):
            return
        self._last = now
        if self.mode == "terminal":
            sys.stderr.write("\r" + self.line()[:150].ljust(100))
            sys.stderr.flush()
        else:
            from IPython.display import HTML, display

            content = HTML(f"<pre style='margin:0'>{html.escape(self.line())}</pre>")
            if self._handle is None:
                self._handle = display(content, display_id=True)
            else:
                self._handle.update(content)

    def close(self) -> None:
        self.stage = "done"
        self._show(force=True)
        if self.mode == "terminal":
            sys.stderr.write("\n")
            sys.stderr.flush()


def table_html(rows: List[Dict[str, Any]], columns: List[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return ", ".join(f"{k}={_fmt(x)}" for k, x in v.items())
    return str(v)


def plot_search(trials: List[Dict[str, Any]], timeline: Dict[int, float], metric: str, higher_is_better: bool, ax: Any = None) -> Any:
    """Scatter of each trial's score over time, one colour per learner, with the best so far."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    done = sorted((timeline[t["trial"]], t) for t in trials if t["trial"] in timeline and t.get("score") is not None)
    by_learner: Dict[str, List[Any]] = {}
    for at, t in done:
        by_learner.setdefault(t["learner"], []).append((at, t["score"]))
    for learner, points in sorted(by_learner.items()):
        ax.scatter([p[0] for p in points], [p[1] for p in points], s=18, alpha=0.75, label=learner)
    xs, ys, best = [], [], None
    for at, t in done:
        if t.get("status") != "ok":
            continue
        s = t["score"]
        if best is None or (s > best if higher_is_better else s < best):
            best = s
        xs.append(at)
        ys.append(best)
    if xs:
        ax.step(xs, ys, where="post", color="black", linewidth=1.5, label="best so far")
    ax.set_xlabel("seconds since start")
    ax.set_ylabel(metric)
    ax.set_title(f"Search: {metric} per trial ({'higher' if higher_is_better else 'lower'} is better)")
    ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3)
    return ax
