#!/usr/bin/env bash
# Builds the test-only bcryptprimitives.dll stand-in (tests/c/bcryptprimitives.c: ProcessPrng,
# which Rust's std imports and Wine 8 lacks) with mingw-w64, into OUTPUT.
#
#   bash tests/windows/build-bcryptprimitives.sh OUTPUT.dll
#
# A Rust-built Windows DLL or program fails to load under Wine 8 without it (c0000135). Copy it
# into a Wine prefix's drive_c/windows/system32 and run with WINEDLLOVERRIDES=bcryptprimitives=n,b
# (never with an mscoree= entry where .NET runs: CoreCLR then cannot start). Never shipped.
# Used by .ci/abi.sh and tests/windows/run-pester-wine.sh. Needs x86_64-w64-mingw32-gcc
# (Debian: apt-get install gcc-mingw-w64-x86-64).
set -euo pipefail
if [ $# -ne 1 ]; then
    echo "usage: $0 OUTPUT.dll" >&2
    exit 2
fi
source=$(cd "$(dirname "$0")/../c" && pwd)/bcryptprimitives.c
x86_64-w64-mingw32-gcc -O2 -shared -Wall -Wextra -Werror "$source" -ladvapi32 -o "$1"
