"""Python layer vs the CLI: wall time on the same data and trials, and peak memory for a
1 GB DataFrame.

    cargo build --release -p automl && pip install ./bindings-python
    python examples/bench/python_overhead.py [--trials 20] [--gb 1.0]

Prints markdown tables. Each configuration runs the same learners, trials and seed at
concurrency 1, so both sides do the same search; wall time of the fit call in Python
against the whole CLI process (both read the same CSV with the engine's reader), and the
fit on an in-memory polars DataFrame (its CSV read excluded). Memory is each process's
own peak RSS (VmHWM), measured in fresh subprocesses; the CLI's is measured on the same
rows written as CSV (with the CLI, the CSV reader's frame plays the part of the
DataFrame), for the same calls.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("AUTOML_BIN", ROOT / "target" / "release" / "automl"))


def vm(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def synthetic_csv(path: pathlib.Path, rows: int, cols: int) -> None:
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, cols))
    y = (x[:, 0] + 0.5 * x[:, 1] - 0.25 * x[:, 2] + rng.normal(scale=0.5, size=rows) > 0).astype(int)
    df = pl.DataFrame({f"f{i}": x[:, i] for i in range(cols)}).with_columns(pl.Series("y", y))
    df.write_csv(path)


def child_python(csv: str, target: str, trials: int, learners: str, mode: str) -> None:
    import polars as pl

    import automl

    frame = pl.read_csv(csv) if mode == "frame" else csv
    m = automl.AutoML(time_budget=None, max_trials=trials, learners=learners.split(","), concurrency=1, seed=0, verbose=False)
    t = time.perf_counter()
    m.fit(frame, target=target)
    print(json.dumps({"wall": time.perf_counter() - t, "trials": len(m.trials_), "best": m.best_score}))


def big_frame(gb: float):
    import numpy as np
    import polars as pl

    cols = 10
    rows = int(gb * 1e9 / (8 * cols))
    rng = np.random.default_rng(0)
    return pl.DataFrame({f"f{i}": rng.normal(size=rows) for i in range(cols)})


def child_memory(gb: float, what: str) -> None:
    import polars as pl

    import automl

    df = big_frame(gb)
    rows = df.height
    base = vm("VmRSS")
    t = time.perf_counter()
    if what == "profile":
        automl.profile(df)
    else:
        y = (df["f0"] > 0).cast(pl.Int64).alias("y")
        automl.AutoML(time_budget=None, max_trials=1, learners=["logistic"], cv=0.2, concurrency=1, verbose=False).fit(df, y)
    print(json.dumps({"frame_mb": df.estimated_size() / 2**20, "base_rss_mb": base, "peak_mb": vm("VmHWM"), "wall": time.perf_counter() - t, "rows": rows}))


def child_cli_memory(csv: str, what: str, out: str) -> None:
    """Runs the CLI on `csv` and prints its peak RSS (the only child of this process)."""
    import resource

    if what == "profile":
        cmd = [str(BIN), "profile", csv, "--json"]
    else:
        cmd = [str(BIN), "run", csv, "--target", "y", "--time-budget", "0", "--max-trials", "1", "--learners", "logistic", "--holdout", "0.2", "--concurrency", "1", "--quiet", "--force", "--out", out]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0, "wall": wall}))


def run_json(cmd: list) -> dict:
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cli_time(csv: str, target: str, trials: int, learners: str, out: str) -> float:
    t = time.perf_counter()
    subprocess.run([str(BIN), "run", csv, "--target", target, "--time-budget", "0", "--max-trials", str(trials), "--learners", learners, "--concurrency", "1", "--seed", "0", "--quiet", "--force", "--out", out], check=True, capture_output=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--gb", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-timing", action="store_true", help="only the memory tables")
    ap.add_argument("--skip-cli-memory", action="store_true", help="skip the CLI's peak memory on the same rows as CSV")
    ap.add_argument("--child", nargs="*")
    a = ap.parse_args()
    if a.child:
        kind, *rest = a.child
        if kind == "python":
            child_python(rest[0], rest[1], int(rest[2]), rest[3], rest[4])
        elif kind == "cli-memory":
            child_cli_memory(rest[0], rest[1], rest[2])
        else:
            child_memory(float(rest[0]), rest[1])
        return
    if not BIN.is_file():
        sys.exit(f"{BIN} missing: cargo build --release -p automl")
    tmp = pathlib.Path(tempfile.mkdtemp())
    synth = tmp / "synthetic_200k.csv"
    synthetic_csv(synth, 200_000, 20)
    cases = [("titanic", str(ROOT / "examples/data/titanic.csv"), "survived", "gbdt,logistic,random_forest"), ("synthetic 200k x 20", str(synth), "y", "gbdt,logistic")]
    me = [sys.executable, __file__, "--child"]
    if not a.skip_timing:
        print(f"## Python layer vs CLI ({a.trials} trials, concurrency 1, best of {a.repeats})\n")
        print("| data | CLI process s | Python fit(csv path) s | overhead | Python fit(polars frame) s | vs CLI |")
        print("|---|---|---|---|---|---|")
    for name, csv, target, learners in [] if a.skip_timing else cases:
        cli = min(cli_time(csv, target, a.trials, learners, str(tmp / "out")) for _ in range(a.repeats))
        py_csv = min(run_json(me + ["python", csv, target, str(a.trials), learners, "csv"])["wall"] for _ in range(a.repeats))
        py_df = min(run_json(me + ["python", csv, target, str(a.trials), learners, "frame"])["wall"] for _ in range(a.repeats))
        print(f"| {name} | {cli:.2f} | {py_csv:.2f} | {100 * (py_csv / cli - 1):+.1f}% | {py_df:.2f} | {100 * (py_df / cli - 1):+.1f}% |")
    print(f"\n## Peak memory with a {a.gb:g} GB polars DataFrame (10 float64 columns)\n")
    print("| call | rows | frame MB | RSS before MB | peak RSS MB | peak - before | wall s |")
    print("|---|---|---|---|---|---|---|")
    for what in ("profile", "fit"):
        r = run_json(me + ["memory", str(a.gb), what])
        label = "automl.profile(df): ingest + profile" if what == "profile" else "AutoML(max_trials=1, logistic, 20% holdout).fit(df, y)"
        print(f"| {label} | {r['rows']:,} | {r['frame_mb']:.0f} | {r['base_rss_mb']:.0f} | {r['peak_mb']:.0f} | {r['peak_mb'] - r['base_rss_mb']:.0f} | {r['wall']:.1f} |")
    if not a.skip_cli_memory:
        import polars as pl

        big = tmp / "big.csv"
        df = big_frame(a.gb)
        df.with_columns((pl.col("f0") > 0).cast(pl.Int64).alias("y")).write_csv(big)
        del df
        print(f"\n## The CLI on the same rows as CSV ({big.stat().st_size / 1e9:.1f} GB)\n")
        print("| call | peak RSS MB | wall s |")
        print("|---|---|---|")
        for what, label in (("profile", "automl profile big.csv"), ("fit", "automl run big.csv --max-trials 1 --learners logistic --holdout 0.2")):
            r = run_json(me + ["cli-memory", str(big), what, str(tmp / "out-big")])
            print(f"| {label} | {r['peak_mb']:.0f} | {r['wall']:.1f} |")
        big.unlink()


if __name__ == "__main__":
    main()
