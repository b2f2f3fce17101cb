#!/usr/bin/env bash
# Builds the Python metric (python-metric/app.py) into dist/cost_weighted_py.wasm with
# componentize-py, which bundles CPython into the component (about 18 MB; pure Python
# only, no numpy).
#
# componentize-py comes from $COMPONENTIZE_PY, else from PATH, else it is installed from
# PyPI into target/python-venv (needs python3 with venv and pip, and network once).
set -euo pipefail
cd "$(dirname "$0")"

COMPONENTIZE_PY_VERSION=0.25.1
wit=../../plugins-wit/wit/v0.1

cpy="${COMPONENTIZE_PY:-}"
if [ -z "$cpy" ] && command -v componentize-py >/dev/null 2>&1; then
    cpy=$(command -v componentize-py)
fi
if [ -z "$cpy" ]; then
    venv=target/python-venv
    if [ ! -x "$venv/bin/componentize-py" ]; then
        echo "build-python.sh: installing componentize-py $COMPONENTIZE_PY_VERSION into $venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet "componentize-py==$COMPONENTIZE_PY_VERSION"
    fi
    cpy="$venv/bin/componentize-py"
fi
echo "build-python.sh: using $("$cpy" --version)"

mkdir -p dist
start=$(date +%s)
# Generated bindings (wit_world, componentize_py_types) are provided by componentize-py
# at build time; the app module is python-metric/app.py.
"$cpy" -d "$wit" -w metric-plugin componentize app -p python-metric -o dist/cost_weighted_py.wasm
echo "build-python.sh: built in $(( $(date +%s) - start )) s:"
ls -l dist/cost_weighted_py.wasm
