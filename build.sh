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
#   ./build.sh package     the release (on Linux): win-x64 and win-x86 (mingw-w64,
#                          the builds of .ci/abi.sh), linux-x64 and linux-arm64
#                          (cargo zigbuild against glibc 2.28), the shim; then
#                          tools/package.ps1 (real pwsh) writes dist/:
#                          MSCommerce.<version>.nupkg, MSCommerce-<version>.zip,
#                          SHA256SUMS, and the staged module dist/MSCommerce/
#     --no-zig             Linux libraries from plain cargo builds (glibc floor of
#                          this machine; arm64 needs aarch64-linux-gnu-gcc)
#     --no-arm64           leave linux-arm64 out (said so in the output)
#   ./build.sh package --pack-only   pack dist/MSCommerce/ as it is (after signing)
# cargo-zigbuild and ziglang (the zig linker) come from PyPI into the project's
# virtual environment .venv/ (as tests/run.sh makes it), pinned below. pwsh is
# $PWSH, pwsh on PATH, or ../shared/tools/pwsh beside the checkout.
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
package=0
pack_only=0
zig=1
arm64=1
for arg in "$@"; do
    case $arg in
        --windows) windows=1 ;;
        --windows-only) windows=1; native=0 ;;
        --shim-only) native=0; windows=0 ;;
        package | --package) package=1 ;;
        --pack-only) pack_only=1 ;;
        --no-zig) zig=0 ;;
        --no-arm64) arm64=0 ;;
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

say() { echo "build.sh: $*"; }
die() {
    echo "build.sh: $*" >&2
    exit 1
}

add_target() { # rust target
    if ! rustup target list --installed | grep -qx "$1"; then
        rustup target add "$1"
    fi
}

# stage <rid> <built file>: copies it to runtimes/<rid>/native/.
stage() {
    local rid=$1 from=$2 file
    file=$(basename "$from")
    mkdir -p "$RUNTIMES/$rid/native"
    cp "$from" "$RUNTIMES/$rid/native/$file"
    say "$rid: $RUNTIMES/$rid/native/$file ($(wc -c < "$from" | tr -d ' ') bytes)"
}

# build <rid> <file> [<rust target>]
build() {
    local rid=$1 file=$2 target=${3:-}
    local from="$TARGET_DIR/release/$file"
    if [ -n "$target" ]; then
        add_target "$target"
        cargo build --release --lib --no-default-features --target "$target"
        from="$TARGET_DIR/$target/release/$file"
    else
        cargo build --release --lib --no-default-features
    fi
    stage "$rid" "$from"
}

need_mingw() {
    local tool
    for tool in x86_64-w64-mingw32-gcc i686-w64-mingw32-gcc; do
        command -v "$tool" >/dev/null 2>&1 ||
            die "$tool is missing (Debian: apt-get install gcc-mingw-w64-x86-64 gcc-mingw-w64-i686)"
    done
}

# The C# shim: compiled to a temporary file, then moved over the old one.
build_shim() {
    if command -v mcs >/dev/null 2>&1; then
        mkdir -p "$(dirname "$SHIM_ASSEMBLY")"
        local tmp="$SHIM_ASSEMBLY.$$.tmp"
        if ! mcs "${MCS_FLAGS[@]}" -out:"$tmp" "$SHIM_SOURCE"; then
            rm -f "$tmp"
            die "mcs could not compile $SHIM_SOURCE"
        fi
        mv -f "$tmp" "$SHIM_ASSEMBLY"
        say "shim: $SHIM_ASSEMBLY ($(wc -c < "$SHIM_ASSEMBLY" | tr -d ' ') bytes)"
    elif [ "$package" = 1 ]; then
        die "mcs not found: the package needs the precompiled shim $SHIM_ASSEMBLY (Debian: apt-get install mono-mcs)"
    else
        echo "build.sh: warning: mcs not found, $SHIM_ASSEMBLY not built: the module will compile the shim with Add-Type at each import (Debian: apt-get install mono-mcs; macOS: brew install mono)" >&2
    fi
}

# ------------------------------------------------------------------ package
ZIGBUILD_VERSION=0.24.1
ZIGLANG_VERSION=0.17.1
VENV=${MSCOMMERCE_TEST_VENV:-$ROOT/.venv}

# The real pwsh: $PWSH, pwsh on PATH, else ../shared/tools/pwsh's launcher.
find_pwsh() {
    if [ -n "${PWSH:-}" ]; then
        echo "$PWSH"
    elif command -v pwsh >/dev/null 2>&1; then
        command -v pwsh
    elif [ -f "$ROOT/../shared/tools/pwsh/install.sh" ]; then
        bash "$ROOT/../shared/tools/pwsh/install.sh" | tail -n 1
    fi
}

# cargo-zigbuild and ziglang in the virtual environment; non-zero when they cannot be had.
setup_zig() {
    if "$VENV/bin/cargo-zigbuild" --version 2>/dev/null | grep -qx "cargo-zigbuild $ZIGBUILD_VERSION" &&
        "$VENV/bin/python" -m ziglang version >/dev/null 2>&1; then
        return 0
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        python3 -m venv "$VENV" || return 1
    fi
    say "installing cargo-zigbuild $ZIGBUILD_VERSION and ziglang $ZIGLANG_VERSION (PyPI) into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "cargo-zigbuild==$ZIGBUILD_VERSION" "ziglang==$ZIGLANG_VERSION"
}

# The newest glibc symbol version a library asks for (readelf reads any architecture).
glibc_floor() {
    readelf -W -V "$1" | grep -oE 'GLIBC_[0-9]+(\.[0-9]+)+' | sort -uV | tail -n 1
}

# A Linux library for <rid> <rust target>: zig against glibc 2.28, or a plain cargo build.
build_linux() {
    local rid=$1 target=$2 started=$SECONDS from
    add_target "$target"
    if [ "$zig" = 1 ]; then
        PATH="$VENV/bin:$PATH" cargo zigbuild --release --lib --no-default-features --target "$target.2.28"
        from="$TARGET_DIR/$target/release/libmscommerce.so"
    elif [ "$target" = "$(rustc -vV | sed -n 's/^host: //p')" ]; then
        # The build of .ci/abi.sh and of ./build.sh (target/release).
        cargo build --release --lib --no-default-features
        from="$TARGET_DIR/release/libmscommerce.so"
    else
        local gcc=${target%%-*}-linux-gnu-gcc var
        var=$(echo "$target" | tr 'a-z-' 'A-Z_')
        env "CARGO_TARGET_${var}_LINKER=$gcc" "CC_${target//-/_}=$gcc" \
            cargo build --release --lib --no-default-features --target "$target"
        from="$TARGET_DIR/$target/release/libmscommerce.so"
    fi
    stage "$rid" "$from"
    say "$rid: needs $(glibc_floor "$from") at most ($((SECONDS - started)) s)"
}

if [ "$package" = 1 ] || [ "$pack_only" = 1 ]; then
    started=$SECONDS
    PWSH=$(find_pwsh)
    [ -n "$PWSH" ] || die "no pwsh (PowerShell 7.4+, for Publish-PSResource): install it, or set PWSH"
    if [ "$pack_only" = 1 ]; then
        "$PWSH" -NoProfile -NonInteractive -File "$ROOT/tools/package.ps1" -PackOnly
        exit 0
    fi
    [ "$(uname -s)" = Linux ] || die "the package is built on Linux (mingw-w64 cross-builds the Windows DLLs); on Windows: ./build.ps1 -Package"
    need_mingw
    if [ "$zig" = 1 ] && ! setup_zig; then
        die "cargo-zigbuild and ziglang did not install into $VENV; --no-zig builds the Linux libraries with this machine's glibc as their floor"
    fi
    # Only what this run builds goes into the package.
    rm -rf "$RUNTIMES"
    # The Windows DLLs: the same builds as .ci/abi.sh's (same target directory and profile).
    step=$SECONDS
    build win-x64 mscommerce.dll x86_64-pc-windows-gnu
    build win-x86 mscommerce.dll i686-pc-windows-gnu
    say "win-x64, win-x86: $((SECONDS - step)) s; win-arm64 is built on Windows only (build.ps1 -AllArchitectures)"
    build_linux linux-x64 x86_64-unknown-linux-gnu
    if [ "$arm64" = 0 ]; then
        say "linux-arm64: SKIPPED - left out (--no-arm64): the package has no linux-arm64 library"
    elif [ "$zig" = 0 ] && ! command -v aarch64-linux-gnu-gcc >/dev/null 2>&1; then
        say "linux-arm64: SKIPPED - aarch64-linux-gnu-gcc is missing (Debian: apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross): the package has no linux-arm64 library"
    else
        build_linux linux-arm64 aarch64-unknown-linux-gnu
    fi
    say "osx-x64, osx-arm64: not built here (macOS libraries are built on a Mac: ./build.sh)"
    build_shim
    "$PWSH" -NoProfile -NonInteractive -File "$ROOT/tools/package.ps1"
    say "package built in $((SECONDS - started)) s"
    exit 0
fi

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
    need_mingw
    build win-x64 mscommerce.dll x86_64-pc-windows-gnu
    build win-x86 mscommerce.dll i686-pc-windows-gnu
    echo "build.sh: win-arm64 is built on Windows only (build.ps1 -AllArchitectures, MSVC toolchain)"
fi

build_shim
