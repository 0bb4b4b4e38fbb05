#!/usr/bin/env bash
# Builds the shipped native library (release, --no-default-features: no
# emulator, no CLI inside) and stages it into the PowerShell module:
#   ps-module/MSCommerce/runtimes/<rid>/native/
# and compiles the module's C# shim, src/MSCommerce.Native.cs, into
#   ps-module/MSCommerce/bin/MSCommerce.Native.dll
# with Mono's mcs as C# 5 (Debian: apt-get install mono-mcs): one assembly
# that Windows PowerShell 5.1 and PowerShell 7 load on every OS. Without
# mcs it is skipped with a warning; the module then compiles the shim with
# Add-Type at each import (about 1.5 s slower).
# The same steps as build.ps1, for Linux and macOS shells.
#
#   ./build.sh             the current platform (linux-x64, linux-arm64,
#                          osx-x64 or osx-arm64), and the shim
#   ./build.sh --windows   also cross-build win-x64 and win-x86 with
#                          mingw-w64 (x86_64-/i686-pc-windows-gnu)
#   ./build.sh --windows-only   the Windows DLLs alone, and the shim
#   ./build.sh --shim-only      the shim alone (no cargo)
set -euo pipefail

cd "$(dirname "$0")"
ROOT=$(pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
MODULE="$ROOT/ps-module/MSCommerce"
RUNTIMES="$MODULE/runtimes"
SHIM_SOURCE="$MODULE/src/MSCommerce.Native.cs"
SHIM_ASSEMBLY="$MODULE/bin/MSCommerce.Native.dll"
# tests/powershell/shim.py compiles with the same flags (a test compares them).
MCS_FLAGS=(-noconfig -langversion:5 -target:library -r:System.dll -warnaserror+)

native=1
windows=0
for arg in "$@"; do
    case $arg in
        --windows) windows=1 ;;
        --windows-only) windows=1; native=0 ;;
        --shim-only) native=0; windows=0 ;;
        -h | --help)
            awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
            exit 0
            ;;
        *)
            echo "build.sh: unknown argument '$arg' (see --help)" >&2
            exit 2
            ;;
    esac
done

# build <rid> <file> [<rust target>]
build() {
    local rid=$1 file=$2 target=${3:-}
    local from="$TARGET_DIR/release/$file"
    if [ -n "$target" ]; then
        if ! rustup target list --installed | grep -qx "$target"; then
            rustup target add "$target"
        fi
        cargo build --release --lib --no-default-features --target "$target"
        from="$TARGET_DIR/$target/release/$file"
    else
        cargo build --release --lib --no-default-features
    fi
    mkdir -p "$RUNTIMES/$rid/native"
    cp "$from" "$RUNTIMES/$rid/native/$file"
    echo "build.sh: $rid: $RUNTIMES/$rid/native/$file ($(wc -c < "$from" | tr -d ' ') bytes)"
}

if [ "$native" = 1 ]; then
    case "$(uname -s)/$(uname -m)" in
        Linux/x86_64 | Linux/amd64) build linux-x64 libmscommerce.so ;;
        Linux/aarch64 | Linux/arm64) build linux-arm64 libmscommerce.so ;;
        Darwin/x86_64) build osx-x64 libmscommerce.dylib ;;
        Darwin/arm64) build osx-arm64 libmscommerce.dylib ;;
        *)
            echo "build.sh: no runtime id for $(uname -s)/$(uname -m); use build.ps1 on Windows" >&2
            exit 1
            ;;
    esac
fi

if [ "$windows" = 1 ]; then
    for tool in x86_64-w64-mingw32-gcc i686-w64-mingw32-gcc; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            echo "build.sh: $tool is missing (Debian: apt-get install gcc-mingw-w64-x86-64 gcc-mingw-w64-i686)" >&2
            exit 1
        fi
    done
    build win-x64 mscommerce.dll x86_64-pc-windows-gnu
    build win-x86 mscommerce.dll i686-pc-windows-gnu
    echo "build.sh: win-arm64 is built on Windows only (build.ps1 -AllArchitectures, MSVC toolchain)"
fi

# The C# shim: compiled to a temporary file, then moved over the old one.
if command -v mcs >/dev/null 2>&1; then
    mkdir -p "$(dirname "$SHIM_ASSEMBLY")"
    tmp="$SHIM_ASSEMBLY.$$.tmp"
    if ! mcs "${MCS_FLAGS[@]}" -out:"$tmp" "$SHIM_SOURCE"; then
        rm -f "$tmp"
        echo "build.sh: mcs could not compile $SHIM_SOURCE" >&2
        exit 1
    fi
    mv -f "$tmp" "$SHIM_ASSEMBLY"
    echo "build.sh: shim: $SHIM_ASSEMBLY ($(wc -c < "$SHIM_ASSEMBLY" | tr -d ' ') bytes)"
else
    echo "build.sh: warning: mcs not found, $SHIM_ASSEMBLY not built: the module will compile the shim with Add-Type at each import (Debian: apt-get install mono-mcs; macOS: brew install mono)" >&2
fi
