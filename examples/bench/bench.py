#!/usr/bin/env python3
"""Benchmark `automl run` on the shared datasets beside the peers' results.

    python3 examples/bench/bench.py [--budget 30] [--short-budget 10] [--single] [--predict-rows 100000]
                                    [--concurrency 1] [--only adult,titanic] [--seeds 1,2,3]
                                    [--bench-dir ../shared/bench] [--bin target/release/automl]

For each dataset in BENCH/data/manifest.json: fit on splits/NAME.train.csv with the given
budget, predict splits/NAME.test.csv, score with BENCH/score.py, and print a table with
the model's held-out score (an ensemble or one trial), with --single the best single
trial's (the same run with --no-ensemble), with --short-budget a second budget's,
FLAML's, AutoGluon's and the best peer's (from BENCH/peers.csv), wall time against the
budget, time to the first finished trial, peak memory, and with --predict-rows the time
`automl predict` takes on that many rows. With --seeds, the main budget also runs once per
seed (`--seed S`) and a second table gives the mean, lowest and highest held-out score
over the seeds, and on how many seeds the goals hold: time-budgeted runs differ from run
to run, and on test splits of 69 to 360 rows one row is 0.3 to 1.4 points, so one run
cannot tell a change from noise. Needs numpy, pandas and
scikit-learn for score.py (installed with pip when missing). Builds the release binary
when --bin is not given.
"""
import argparse
import csv
import json
import shlex
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
    """FLAML's, AutoGluon's and the best peer's (score, tool) on `dataset` for `key`."""
    best, flaml, autogluon = None, None, None
    with open(peers_csv) as f:
        for row in csv.DictReader(f):
            if row["dataset"] != dataset or row["status"] != "ok" or not row.get(key):
                continue
            v = float(row[key])
            if row["tool"] == "flaml":
                flaml = v
            if row["tool"] == "autogluon":
                autogluon = v
            if best is None or v > best[0]:
                best = (v, row["tool"])
    return flaml, autogluon, best


# Arguments added to every `automl run` (--run-args).
RUN_ARGS = []


def run_once(binary, bench, d, budget, concurrency, extra, tmp, metric=None):
    """One `automl run` on the train split and its held-out scores; a row for the table."""
    name, target, task = d["name"], d["target"], d["task"]
    train = bench / "data" / "splits" / f"{name}.train.csv"
    test = bench / "data" / "splits" / f"{name}.test.csv"
    out = Path(tmp) / ("out-" + "-".join([str(budget), *extra]).replace(" ", "_"))
    code, wall, rss, stdout, stderr = run_measured([
        binary, "run", str(train), "--target", target, "--time-budget", str(budget),
        "--concurrency", str(concurrency), "--out", str(out), "--json", "--quiet",
        *(["--metric", metric] if metric else []), *RUN_ARGS, *extra])
    if code != 0:
        print(f"{name}: failed: {stderr.strip()}", file=sys.stderr)
        return {"error": stderr.strip().splitlines()[-1] if stderr.strip() else f"exit {code}"}
    summary = json.loads(stdout)
    model = out / "model.automl"
    pred = Path(tmp) / "pred.csv"
    subprocess.run([binary, "predict", "--model", str(model), str(test), "--out", str(pred)], check=True)
    score_cmd = [sys.executable, str(bench / "score.py"), "--test", str(test), "--target", target, "--pred", str(pred), "--task", task]
    if task != "regression":
        proba = Path(tmp) / "proba.csv"
        subprocess.run([binary, "predict", "--model", str(model), str(test), "--proba", "--out", str(proba)], check=True)
        score_cmd += ["--proba", str(proba)]
    scores = json.loads(subprocess.run(score_cmd, check=True, capture_output=True, text=True).stdout)
    key = "r2" if task == "regression" else "accuracy"
    return {
        "score": scores[key], "model": summary["model"]["learner"], "members": len(summary["model"]["members"]),
        "final_fit": summary["model"].get("final_fit", "refit"),
        "best_learner": summary["best"]["learner"], "trials": summary["trials"]["total"],
        "wall_s": wall, "budget_s": budget, "first_trial_s": summary["seconds"]["first_trial"],
        # The process's own VmHWM: ru_maxrss would include the Python parent's size at fork.
        "peak_rss_mb": summary.get("peak_rss_mb") or rss, "all_scores": scores, "model_path": str(model),
    }


def predict_seconds(binary, model, test, tmp, rows=100_000):
    """Wall seconds of `automl predict` on `rows` rows (the test split repeated)."""
    big = Path(tmp) / "big.csv"
    with open(test) as f:
        header, *lines = f.read().splitlines()
    with open(big, "w") as f:
        f.write(header + "\n")
        for i in range(rows):
            f.write(lines[i % len(lines)] + "\n")
    start = time.monotonic()
    subprocess.run([binary, "predict", "--model", str(model), str(big), "--out", str(Path(tmp) / "big.pred.csv")], check=True)
    return time.monotonic() - start


def test_rows(bench, name):
    """Rows of the test split (the goal allows 0.005 below the best peer under 300)."""
    with open(bench / "data" / "splits" / f"{name}.test.csv") as f:
        return sum(1 for _ in f) - 1


def print_seed_table(rows, seeds, budget):
    """Mean, lowest and highest score over the seeds, and on how many the goals hold."""
    print(f"\nautoml run, {budget:.0f} s budget, seeds {','.join(map(str, seeds))}: held-out score over the seeds")
    print("(goal: at least the best peer, within 0.005 where the test split has under 300 rows; at least FLAML)\n")
    header = "| dataset | metric | test rows | mean | lowest | highest | FLAML | best peer | mean vs best | seeds at best peer | seeds at FLAML |"
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for r in rows:
        scores = [s["score"] for s in r["seeds"] if "error" not in s]
        if not scores:
            print(f"| {r['dataset']} | {r['metric']} | failed |" + " |" * (header.count("|") - 4))
            continue
        slack = 0.005 if r["test_rows"] < 300 else 0.0
        at_best = "-" if r["best_peer"] is None else sum(s >= r["best_peer"] - slack - 1e-12 for s in scores)
        at_flaml = "-" if r["flaml"] is None else sum(s >= r["flaml"] - 1e-12 for s in scores)
        mean = sum(scores) / len(scores)
        vs_best = fmt(mean - r["best_peer"], "+.4f") if r["best_peer"] is not None else "-"
        print(f"| {r['dataset']} | {r['metric']} | {r['test_rows']} | {mean:.4f} | {min(scores):.4f} | {max(scores):.4f} | {fmt(r['flaml'])} | {fmt(r['best_peer'])} | {vs_best} | {at_best}/{len(scores)} | {at_flaml}/{len(scores)} |")


def seed_list(text):
    """`--seeds`: comma-separated non-negative integers."""
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a list of seeds: give whole numbers separated by commas, say 1,2,3")
    if any(s < 0 for s in seeds):
        raise argparse.ArgumentTypeError(f"'{text}': seeds are non-negative whole numbers")
    return seeds


def fmt(v, spec=".4f"):
    return "-" if v is None else format(v, spec)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=30.0, help="the main budget (seconds)")
    ap.add_argument("--short-budget", type=float, default=0.0, help="also run at this budget (say 10) and print its column")
    ap.add_argument("--single", action="store_true", help="also run the main budget with --no-ensemble (the best single trial)")
    ap.add_argument("--refit", action="store_true", help="also run the main budget with --final-fit refit (the model refit on all rows instead of bagged)")
    ap.add_argument("--predict-rows", type=int, default=0, help="also time `automl predict` on this many rows (say 100000)")
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--judged-metric", action="store_true", help="search with the metric the table judges (accuracy, r2) instead of the engine's default (log_loss for classification)")
    ap.add_argument("--only", default="")
    ap.add_argument("--run-args", default="", help="more `automl run` arguments for every run, as one string (say \"--seed 2 --final-fit bag\")")
    ap.add_argument("--seeds", type=seed_list, default=[], help="also run the main budget once per seed (say 1,2,3) and print the scores' mean and range")
    ap.add_argument("--bench-dir", default=str(ROOT.parent / "shared" / "bench"))
    ap.add_argument("--bin", default="")
    ap.add_argument("--json", help="also write the rows as JSON to this file")
    a = ap.parse_args()

    RUN_ARGS.extend(shlex.split(a.run_args))
    bench = Path(a.bench_dir)
    ensure_python_deps()
    binary = a.bin
    if not binary:
        subprocess.run(["cargo", "build", "--release", "-p", "automl", "--quiet"], cwd=ROOT, check=True)
        binary = str(ROOT / "target" / "release" / "automl")
    manifest = json.loads((bench / "data" / "manifest.json").read_text())
    only = set(filter(None, a.only.split(",")))
    seeds = a.seeds
    rows = []
    for d in manifest:
        name, task = d["name"], d["task"]
        if only and name not in only:
            continue
        key = "r2" if task == "regression" else "accuracy"
        flaml, autogluon, best = peer_scores(bench / "peers.csv", name, key)
        row = {"dataset": name, "task": task, "metric": key, "flaml": flaml, "autogluon": autogluon,
               "best_peer": best[0] if best else None, "best_tool": best[1] if best else None,
               "test_rows": test_rows(bench, name)}
        with tempfile.TemporaryDirectory() as tmp:
            metric = key if a.judged_metric else None
            row["main"] = run_once(binary, bench, d, a.budget, a.concurrency, [], tmp, metric)
            if a.single:
                row["single"] = run_once(binary, bench, d, a.budget, a.concurrency, ["--no-ensemble"], tmp, metric)
            if a.refit:
                row["refit"] = run_once(binary, bench, d, a.budget, a.concurrency, ["--final-fit", "refit"], tmp, metric)
            if a.short_budget:
                row["short"] = run_once(binary, bench, d, a.short_budget, a.concurrency, [], tmp, metric)
            if seeds:
                row["seeds"] = [run_once(binary, bench, d, a.budget, a.concurrency, ["--seed", str(s)], tmp, metric) for s in seeds]
            if a.predict_rows and "error" not in row["main"]:
                test = bench / "data" / "splits" / f"{name}.test.csv"
                row["predict_s"] = predict_seconds(binary, row["main"]["model_path"], test, tmp, a.predict_rows)
        rows.append(row)
        m = row["main"]
        print(f"{name}: {key} {m.get('score')} (flaml {flaml}, best peer {best}) {m.get('model')} wall {m.get('wall_s')}", file=sys.stderr)

    print(f"\nautoml run, {a.budget:.0f} s budget, concurrency {a.concurrency}; held-out scores on the fixed test splits")
    print("(automl: the model, an ensemble or one trial; single: the same run with --no-ensemble; peers from peers.csv at 30 s)\n")
    short = f" | automl {a.short_budget:.0f} s" if a.short_budget else ""
    refit = " | refit" if a.refit else ""
    header = f"| dataset | metric | automl | model | fit | single{refit}{short} | FLAML | AutoGluon | best peer | vs best | vs FLAML | trials | wall s | over budget | first trial s | peak RSS MB | predict {a.predict_rows} rows s |"
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for r in rows:
        m = r["main"]
        if "error" in m:
            print(f"| {r['dataset']} | {r['metric']} | failed: {m['error']} |" + " |" * (header.count("|") - 4))
            continue
        single = r.get("single", {}).get("score")
        sh = f" | {fmt(r.get('short', {}).get('score'))}" if a.short_budget else ""
        rf = f" | {fmt(r.get('refit', {}).get('score'))}" if a.refit else ""
        bp = f"{r['best_peer']:.4f} ({r['best_tool']})" if r["best_peer"] is not None else "-"
        vs_best = fmt(m["score"] - r["best_peer"], "+.4f") if r["best_peer"] is not None else "-"
        vs_flaml = fmt(m["score"] - r["flaml"], "+.4f") if r["flaml"] is not None else "-"
        over = 100.0 * (m["wall_s"] - m["budget_s"]) / m["budget_s"]
        model = m["model"] + (f" ({m['members']})" if m["members"] > 1 else "")
        print(f"| {r['dataset']} | {r['metric']} | {m['score']:.4f} | {model} | {m['final_fit']} | {fmt(single)}{rf}{sh} | {fmt(r['flaml'])} | {fmt(r['autogluon'])} | {bp} | {vs_best} | {vs_flaml} | {m['trials']} | {m['wall_s']:.1f} | {over:+.1f}% | {fmt(m['first_trial_s'], '.2f')} | {m['peak_rss_mb']:.0f} | {fmt(r.get('predict_s'), '.2f')} |")
    if seeds:
        print_seed_table(rows, seeds, a.budget)
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
