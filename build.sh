#!/usr/bin/env bash
# Builds the shipped native library (release, --no-default-features: no
# emulator, no CLI inside) and stages it into the PowerShell module:
#   ps-module/MSCommerce/runtimes/<rid>/native/
# The same steps as build.ps1, for Linux and macOS shells.
#
#   ./build.sh             the current platform (linux-x64, linux-arm64,
#                          osx-x64 or osx-arm64)
#   ./build.sh --windows   also cross-build win-x64 and win-x86 with
#                          mingw-w64 (x86_64-/i686-pc-windows-gnu)
#   ./build.sh --windows-only   the Windows DLLs alone
set -euo pipefail

cd "$(dirname "$0")"
ROOT=$(pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
RUNTIMES="$ROOT/ps-module/MSCommerce/runtimes"

native=1
windows=0
for arg in "$@"; do
    case $arg in
        --windows) windows=1 ;;
        --windows-only) windows=1; native=0 ;;
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
