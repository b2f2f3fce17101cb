#!/usr/bin/env bash
# The README's test command: installs what the tests need, then runs every test suite.
# Needs only what a fresh machine has (rustup's toolchain, Python 3 with pip) and the
# package registries.
set -euo pipefail
cd "$(dirname "$0")/.."

# Rust: the engine, the CLI, and (building only) the Python extension crate.
cargo test --workspace --locked

# Python: a virtual environment with the test dependencies and the package itself. The
# package is built with the dev profile here so that it reuses the crates `cargo test`
# just compiled (dependencies are optimised in that profile too); users'
# `pip install ./bindings-python` builds the release profile.
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "maturin>=1.9,<2" pytest pandas pyarrow scikit-learn matplotlib nbclient nbformat ipykernel
MATURIN_PEP517_ARGS="--profile dev --locked" .venv/bin/python -m pip install -q ./bindings-python
AUTOML_BIN="$PWD/target/debug/automl" .venv/bin/python -m pytest bindings-python/tests -q
