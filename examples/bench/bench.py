#!/usr/bin/env python3
"""Benchmark `automl run` on the shared datasets beside the peers' results.

    python3 examples/bench/bench.py [--budget 30] [--concurrency 1] [--only adult,titanic]
                                    [--bench-dir ../shared/bench] [--bin target/release/automl]

For each dataset in BENCH/data/manifest.json: fit on splits/NAME.train.csv with the given
budget, predict splits/NAME.test.csv, score with BENCH/score.py, and print a table with
FLAML's and the best peer's held-out score (from BENCH/peers.csv), wall time against the
budget, time to the first finished trial, and peak memory. Needs numpy, pandas and
scikit-learn for score.py (installed with pip when missing). Builds the release binary
when --bin is not given.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def ensure_python_deps():
    try:
        import numpy, pandas, sklearn  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "numpy", "pandas", "scikit-learn"], check=True)


def run_measured(cmd):
    """Runs cmd, returns (returncode, wall seconds, peak RSS MB of that process, stdout, stderr)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        p = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.monotonic() - start
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return p.returncode, wall, usage.ru_maxrss / 1024, out.read().decode(), err.read().decode()


def peer_scores(peers_csv, dataset, key):
    best, flaml = None, None
    with open(peers_csv) as f:
        for row in csv.DictReader(f):
            if row["dataset"] != dataset or row["status"] != "ok" or not row.get(key):
                continue
            v = float(row[key])
            if row["tool"] == "flaml":
                flaml = v
            if best is None or v > best[0]:
                best = (v, row["tool"])
    return flaml, best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=30.0)
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--only", default="")
    ap.add_argument("--bench-dir", default=str(ROOT.parent / "shared" / "bench"))
    ap.add_argument("--bin", default="")
    ap.add_argument("--json", help="also write the rows as JSON to this file")
    a = ap.parse_args()

    bench = Path(a.bench_dir)
    ensure_python_deps()
    binary = a.bin
    if not binary:
        subprocess.run(["cargo", "build", "--release", "-p", "automl", "--quiet"], cwd=ROOT, check=True)
        binary = str(ROOT / "target" / "release" / "automl")
    manifest = json.loads((bench / "data" / "manifest.json").read_text())
    only = set(filter(None, a.only.split(",")))
    rows = []
    for d in manifest:
        name, target, task = d["name"], d["target"], d["task"]
        if only and name not in only:
            continue
        train = bench / "data" / "splits" / f"{name}.train.csv"
        test = bench / "data" / "splits" / f"{name}.test.csv"
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "out"
            code, wall, rss, stdout, stderr = run_measured([
                binary, "run", str(train), "--target", target, "--time-budget", str(a.budget),
                "--concurrency", str(a.concurrency), "--out", str(out), "--json", "--quiet"])
            if code != 0:
                rows.append({"dataset": name, "task": task, "error": stderr.strip().splitlines()[-1] if stderr.strip() else f"exit {code}"})
                print(f"{name}: failed: {stderr.strip()}", file=sys.stderr)
                continue
            summary = json.loads(stdout)
            pred = Path(tmp) / "pred.csv"
            subprocess.run([binary, "predict", "--model", str(out / "model.automl"), str(test), "--out", str(pred)], check=True)
            score_cmd = [sys.executable, str(bench / "score.py"), "--test", str(test), "--target", target, "--pred", str(pred), "--task", task]
            if task != "regression":
                proba = Path(tmp) / "proba.csv"
                subprocess.run([binary, "predict", "--model", str(out / "model.automl"), str(test), "--proba", "--out", str(proba)], check=True)
                score_cmd += ["--proba", str(proba)]
            scores = json.loads(subprocess.run(score_cmd, check=True, capture_output=True, text=True).stdout)
        key = "r2" if task == "regression" else "accuracy"
        flaml, best = peer_scores(bench / "peers.csv", name, key)
        rows.append({
            "dataset": name, "task": task, "metric": key, "score": scores[key], "flaml": flaml,
            "best_peer": best[0] if best else None, "best_tool": best[1] if best else None,
            "best_learner": summary["best"]["learner"], "trials": summary["trials"]["total"],
            "wall_s": wall, "budget_s": a.budget, "first_trial_s": summary["seconds"]["first_trial"],
            # The process's own VmHWM: ru_maxrss would include the Python parent's size at fork.
            "peak_rss_mb": summary.get("peak_rss_mb") or rss, "all_scores": scores,
        })
        r = rows[-1]
        print(f"{name}: {key} {r['score']:.4f} (flaml {flaml}, best peer {best}) wall {wall:.1f}s", file=sys.stderr)

    print(f"\nautoml run, {a.budget:.0f} s budget, concurrency {a.concurrency}; held-out scores on the fixed test splits\n")
    header = f"| dataset | task | metric | automl | FLAML | best peer | vs FLAML | best learner | trials | wall s | over budget | first trial s | peak RSS MB |"
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for r in rows:
        if "error" in r:
            print(f"| {r['dataset']} | {r['task']} | | failed: {r['error']} | | | | | | | | | |")
            continue
        fl = f"{r['flaml']:.4f}" if r["flaml"] is not None else "-"
        bp = f"{r['best_peer']:.4f} ({r['best_tool']})" if r["best_peer"] is not None else "-"
        diff = f"{r['score'] - r['flaml']:+.4f}" if r["flaml"] is not None else "-"
        over = 100.0 * (r["wall_s"] - r["budget_s"]) / r["budget_s"]
        first = f"{r['first_trial_s']:.2f}" if r["first_trial_s"] is not None else "-"
        print(f"| {r['dataset']} | {r['task']} | {r['metric']} | {r['score']:.4f} | {fl} | {bp} | {diff} | {r['best_learner']} | {r['trials']} | {r['wall_s']:.1f} | {over:+.1f}% | {first} | {r['peak_rss_mb']:.0f} |")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
