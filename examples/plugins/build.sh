#!/usr/bin/env bash
# Builds every Rust plugin in this folder as a WebAssembly component and copies them to
# dist/NAME.wasm. Needs the Rust toolchain and `rustup target add wasm32-wasip2`.
#   ./build.sh            Rust plugins only
#   ./build.sh --python   also the Python metric (build-python.sh; needs Python 3 and pip)
set -euo pipefail
cd "$(dirname "$0")"

python=false
for arg in "$@"; do
    case "$arg" in
        --python) python=true ;;
        -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx wasm32-wasip2; then
    echo "build.sh: the wasm32-wasip2 target is missing; run: rustup target add wasm32-wasip2" >&2
    exit 1
fi

# --locked when the lock file is there (as committed), so CI builds what was tested.
locked=()
if [ -f Cargo.lock ]; then locked=(--locked); fi

start=$(date +%s)
cargo build --target wasm32-wasip2 --release "${locked[@]}"

# dist name <- crate's library name (hyphens become underscores in the .wasm file name).
mkdir -p dist
out=target/wasm32-wasip2/release
while read -r dist crate; do
    cp "$out/$crate.wasm" "dist/$dist.wasm"
done <<'LIST'
log_transform log_transform
cost_weighted cost_weighted
patience patience_stop
endless_loop endless_loop
alloc_bomb alloc_bomb
trap trap
sandbox_probe sandbox_probe
wrong_world wrong_world
sleepy_metric sleepy_metric
sleepy_rule sleepy_rule
reshaping_preprocessor reshaping_preprocessor
escape_text escape_text
column_bomb column_bomb
always_stop always_stop
LIST
echo "build.sh: Rust plugins built in $(( $(date +%s) - start )) s:"
ls -l dist/*.wasm

if $python; then
    ./build-python.sh
fi
