#!/usr/bin/env bash
# Installs what the PowerShell module's tests need (tests/powershell): Mono's C#
# compiler and runtime (the module's C# 5 shim), and tree-sitter with the
# PowerShell grammar and pytest in the project's virtual environment (.venv).
# The README's test command does this set-up itself; this is its set-up alone:
# Debian packages with apt-get when root, else the command to run is printed.
exec bash "$(dirname "$0")/../tests/run.sh" --setup-only "$@"
