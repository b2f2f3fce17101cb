#!/usr/bin/env python3
"""The engine's booster against LightGBM, same parameters, same data, one run.

    python3 examples/bench/gbdt_vs_lightgbm.py [--threads 1,2] [--rounds 100] [--bench-dir ../shared/bench]

Data: synthetic 100k x 20 binary (make_classification) and regression (make_friedman1 with
15 noise features, noise 1), 20k test rows each; adult, diamonds and digits (multiclass) from the
shared splits (text columns as categories for both). Parameters: 100 rounds, 31 leaves,
learning rate 0.1, min_child_samples 20, 255 bins. LightGBM runs with
OMP_WAIT_POLICY=PASSIVE. Each fit runs in its own process; peak memory is that process's
VmHWM (LightGBM's includes Python and pandas).
Needs lightgbm, scikit-learn, pandas (pip). Builds the Rust example in release mode.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

LGB_CHILD = r'''
import json, sys, time, os
import numpy as np, pandas as pd, lightgbm as lgb
train, test, target, task, threads, rounds = sys.argv[1:7]
tr = pd.read_csv(train, keep_default_na=False, na_values=[""]); te = pd.read_csv(test, keep_default_na=False, na_values=[""])
y = tr.pop(target); yt = te.pop(target)
for c in tr.columns:
    if not pd.api.types.is_numeric_dtype(tr[c]):
        cats = pd.CategoricalDtype(sorted(tr[c].dropna().unique()))
        tr[c] = tr[c].astype(cats); te[c] = te[c].astype(cats)
params = dict(n_estimators=int(rounds), num_leaves=31, learning_rate=0.1, min_child_samples=20, max_bin=255,
              n_jobs=int(threads), verbose=-1)
if task == "regression":
    m = lgb.LGBMRegressor(**params)
else:
    m = lgb.LGBMClassifier(**params)
t = time.perf_counter(); m.fit(tr, y); fit = time.perf_counter() - t
p = m.predict(te)
if task == "regression":
    score = 1 - ((yt - p) ** 2).sum() / ((yt - yt.mean()) ** 2).sum()
else:
    score = float((p == yt.values).mean())
hwm = next(float(l.split()[1]) / 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"fit_s": fit, "score": float(score), "peak_rss_mb": hwm}))
'''


def measured(cmd, env=None):
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(p.pid, 0)
        out.seek(0); err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{cmd[0]} failed: {err.read().decode()}")
        result = json.loads(out.read().decode().strip().splitlines()[-1])
        # VmHWM reported by the child itself: ru_maxrss would include this parent's size at fork.
        return result, result.get("peak_rss_mb") or usage.ru_maxrss / 1024


def synthetic(tmp):
    from sklearn.datasets import make_classification, make_friedman1
    import pandas as pd
    out = []
    X, y = make_classification(n_samples=120_000, n_features=20, n_informative=10, random_state=0)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(20)]); df["y"] = y
    df[:100_000].to_csv(tmp / "bin.train.csv", index=False); df[100_000:].to_csv(tmp / "bin.test.csv", index=False)
    out.append(("synthetic binary 100k x 20", tmp / "bin.train.csv", tmp / "bin.test.csv", "y", "binary"))
    X, y = make_friedman1(n_samples=120_000, n_features=20, noise=1.0, random_state=0)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(20)]); df["y"] = y
    df[:100_000].to_csv(tmp / "reg.train.csv", index=False); df[100_000:].to_csv(tmp / "reg.test.csv", index=False)
    out.append(("synthetic regression 100k x 20", tmp / "reg.train.csv", tmp / "reg.test.csv", "y", "regression"))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", default="100")
    ap.add_argument("--bench-dir", default=str(ROOT.parent / "shared" / "bench"))
    a = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "-p", "automl", "--example", "gbdt_bench", "--quiet"], cwd=ROOT, check=True)
    ours = str(ROOT / "target" / "release" / "examples" / "gbdt_bench")
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    bench = Path(a.bench_dir) / "data" / "splits"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sets = synthetic(tmp) + [
            ("adult", bench / "adult.train.csv", bench / "adult.test.csv", "income", "binary"),
            ("diamonds", bench / "diamonds.train.csv", bench / "diamonds.test.csv", "price", "regression"),
            # `letter` is not among the shared data sets; digits stands in for multiclass.
            ("digits (10 classes)", bench / "digits.train.csv", bench / "digits.test.csv", "target", "multiclass"),
        ]
        child = tmp / "lgb_child.py"
        child.write_text(LGB_CHILD)
        for name, train, test, target, task in sets:
            for threads in a.threads.split(","):
                lgb, lgb_rss = measured([sys.executable, str(child), str(train), str(test), target, task, threads, a.rounds], env)
                us, us_rss = measured([ours, str(train), str(test), target, task, threads, a.rounds])
                rows.append((name, threads, us, us_rss, lgb, lgb_rss))
                print(f"{name} t={threads}: ours {us} lgb {lgb}", file=sys.stderr)
    print(f"\n| data | threads | fit s (ours) | fit s (LightGBM) | ratio | score (ours) | score (LightGBM) | diff | peak MB (ours) | peak MB (LightGBM) | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, t, us, ur, lg, lr in rows:
        print(f"| {name} | {t} | {us['fit_s']:.2f} | {lg['fit_s']:.2f} | {us['fit_s'] / lg['fit_s']:.2f}x | {us['score']:.4f} | {lg['score']:.4f} | {us['score'] - lg['score']:+.4f} | {ur:.0f} | {lr:.0f} | {ur / lr:.2f}x |")
    print("\nscore: accuracy (binary) or R² (regression) on the held-out rows")


if __name__ == "__main__":
    main()
