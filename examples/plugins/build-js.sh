#!/usr/bin/env bash
# Builds the JavaScript metric (js-metric/cost_weighted.js) into dist/cost_weighted_js.wasm
# with jco componentize (StarlingMonkey inside, about 11 MB). Needs Node.js 18+ and npm;
# the pinned tools come from the npm registry into js-metric/node_modules (npm ci).
set -euo pipefail
cd "$(dirname "$0")"

wit=../../plugins-wit/wit/v0.1
if ! command -v npm >/dev/null 2>&1; then
    echo "build-js.sh: npm is missing: install Node.js 18 or later" >&2
    exit 1
fi
(cd js-metric && npm ci --no-audit --no-fund --loglevel=error)

mkdir -p dist
start=$(date +%s)
# --disable http: the host links WASI 0.2 without wasi:http (a plugin has no network
# unless granted, and then only sockets).
js-metric/node_modules/.bin/jco componentize js-metric/cost_weighted.js --wit "$wit" --world-name metric-plugin \
    --disable http --out dist/cost_weighted_js.wasm
echo "build-js.sh: built in $(( $(date +%s) - start )) s:"
ls -l dist/cost_weighted_js.wasm
