#!/usr/bin/env bash
# Installs what the PowerShell module's tests need (tests/powershell):
#   - Mono's C# compiler and runtime (the module's C# 5 P/Invoke shim is compiled and run by them);
#   - tree-sitter with the PowerShell grammar, and pytest (static checks of the module).
# Idempotent: installs only what is missing; `apt-get update` runs at most once.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
fi

if ! command -v mcs >/dev/null 2>&1 || ! command -v mono >/dev/null 2>&1; then
    echo "install-powershell-deps: installing mono-mcs mono-runtime" >&2
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends mono-mcs mono-runtime >/dev/null 2>&1; then
        $SUDO apt-get update -qq
        $SUDO apt-get install -y --no-install-recommends mono-mcs mono-runtime
    fi
fi

PY="${PYTHON:-python3}"
if ! "$PY" - <<'PYCHECK' >/dev/null 2>&1
import importlib.metadata as m
assert m.version("tree-sitter") == "0.26.1"
assert m.version("tree-sitter-pwsh") == "0.38.1"
import pytest  # noqa: F401
PYCHECK
then
    echo "install-powershell-deps: installing tree-sitter==0.26.1 tree-sitter-pwsh==0.38.1 pytest" >&2
    "$PY" -m pip install --quiet --disable-pip-version-check \
        "tree-sitter==0.26.1" "tree-sitter-pwsh==0.38.1" pytest
fi

echo "install-powershell-deps: mcs $(mcs --version 2>/dev/null | head -n1), python $("$PY" --version 2>&1)" >&2
