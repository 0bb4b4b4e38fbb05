#!/usr/bin/env bash
# CI for the C ABI (issue 3): header, shipped library, C test natively and
# under valgrind, Windows DLLs (x64 and x86) and their export tables, the C
# test under Wine (x64), cold start. Idempotent and self-installing: installs
# what is missing (gcc, valgrind, mingw-w64, wine64, the two rustup targets,
# cbindgen 0.29.4) and nothing else. Prints what it skipped and why (every
# "SKIPPED - " line, including the C program's own skipped checks), and ends
# with "abi: N passed, N failed, N skipped"; exits non-zero when a check failed.
# tests/run.sh counts these lines in its summary.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
CBINDGEN_VERSION=0.29.4
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/msc-abi.XXXXXX")
CONTRACT="msc_abi_version msc_connect msc_disconnect msc_get msc_session_free msc_session_new msc_string_free msc_update msc_version"
WINDOWS_TARGETS="x86_64-pc-windows-gnu i686-pc-windows-gnu"

passed=0
failed=0
skipped=0
EMU_PID=""
WINE64=""

say() { printf 'abi: %s\n' "$*"; }
ok() { passed=$((passed + 1)); say "ok - $*"; }
bad() { failed=$((failed + 1)); say "FAILED - $*"; }
skip() { skipped=$((skipped + 1)); say "SKIPPED - $*"; }

cleanup() {
    if [ -n "$EMU_PID" ]; then kill "$EMU_PID" 2>/dev/null || true; fi
    if [ -n "$WINE64" ] && [ -d "$WORK/wineprefix" ]; then
        WINEPREFIX="$WORK/wineprefix" "$(dirname "$WINE64")/wineserver" -k 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# ---------------------------------------------------------------- install
SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
APT_UPDATED=""
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "$APT_UPDATED" ]; then
        $SUDO apt-get update -qq || true
        APT_UPDATED=1
    fi
    say "installing $*"
    $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
need=()
command -v gcc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v valgrind >/dev/null 2>&1 || need+=(valgrind)
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || need+=(gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64)
command -v i686-w64-mingw32-gcc >/dev/null 2>&1 || need+=(gcc-mingw-w64-i686 binutils-mingw-w64-i686)
[ -x /usr/lib/wine/wine64 ] || command -v wine64 >/dev/null 2>&1 || need+=(wine64)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
    apt_install "${need[@]}" || say "apt-get install ${need[*]} failed; the steps that need them are skipped"
fi
for t in $WINDOWS_TARGETS; do
    if ! rustup target list --installed 2>/dev/null | grep -qx "$t"; then
        say "rustup target add $t"
        rustup target add "$t" >/dev/null 2>&1 || say "rustup target add $t failed"
    fi
done
if ! cbindgen --version 2>/dev/null | grep -q " $CBINDGEN_VERSION\$"; then
    say "installing cbindgen $CBINDGEN_VERSION"
    cargo install cbindgen --version "$CBINDGEN_VERSION" --locked --quiet
fi
for w in /usr/lib/wine/wine64 "$(command -v wine64 2>/dev/null || true)"; do
    if [ -n "$w" ] && [ -x "$w" ]; then WINE64=$w; break; fi
done

# ---------------------------------------------------------------- header
cbindgen --config cbindgen.toml --crate mscommerce --quiet --output include/mscommerce.h
if git diff --exit-code include/mscommerce.h; then
    ok "include/mscommerce.h equals cbindgen $CBINDGEN_VERSION's output"
else
    bad "include/mscommerce.h differs from cbindgen's output (diff above): regenerate and commit it"
fi
header_fns=$(grep -oE '\bmsc_[a-z_]+\(' include/mscommerce.h | tr -d '(' | sort -u | tr '\n' ' ' | sed 's/ $//')
if [ "$header_fns" = "$CONTRACT" ]; then
    ok "the header declares exactly the contract's functions"
else
    bad "the header declares [$header_fns], the contract [$CONTRACT]"
fi

# ------------------------------------------------- shipped library, native
native_build_start=$(date +%s)
cargo build --release --lib --no-default-features --quiet
say "native release library built in $(( $(date +%s) - native_build_start )) s"
SO="$TARGET_DIR/release/libmscommerce.so"
so_fns=$(nm -D --defined-only "$SO" | awk '$2 == "T" {print $3}' | sort | tr '\n' ' ' | sed 's/ $//')
if [ "$so_fns" = "$CONTRACT" ]; then
    ok "libmscommerce.so exports exactly the contract's functions ($(stat -c %s "$SO") bytes)"
else
    bad "libmscommerce.so exports [$so_fns]"
fi

# The emulator: the Linux CLI is the peer of the native and the Wine runs.
cargo build --bin mscommerce --quiet
"$TARGET_DIR/debug/mscommerce" emulator --port 0 > "$WORK/emulator.out" 2> "$WORK/emulator.err" &
EMU_PID=$!
URL=""
for _ in $(seq 1 100); do
    URL=$(head -n 1 "$WORK/emulator.out" 2>/dev/null | grep -oE 'http://127\.0\.0\.1:[0-9]+' || true)
    [ -n "$URL" ] && break
    sleep 0.1
done
if [ -z "$URL" ]; then
    bad "the emulator did not start: $(cat "$WORK/emulator.err")"
    exit 1
fi
say "emulator at $URL"
VERSION=$(cargo metadata --no-deps --format-version 1 | python3 -c 'import json,sys; print([p for p in json.load(sys.stdin)["packages"] if p["name"]=="mscommerce"][0]["version"])')

# The C program's own skipped checks ("skip - WHAT: WHY" lines): each one is
# counted as a skipped check of that run, with its reason.
count_c_skips() { # name, output file
    local line
    while IFS= read -r line; do
        skip "$1: ${line#skip - }"
    done < <(grep -E '^skip - ' "$2" || true)
}

run_c_test() { # name, command...
    local name=$1
    shift
    if "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" && grep -qE '^[0-9]+ passed, 0 failed' "$WORK/$name.out"; then
        if [ -s "$WORK/$name.err" ] && [ "$name" != wine ]; then
            bad "$name: the library printed to stderr: $(head -c 400 "$WORK/$name.err")"
        else
            ok "$name: $(tail -n 1 "$WORK/$name.out")"
        fi
        count_c_skips "$([ "$name" = wine ] && echo "C test under Wine (x64 DLL)" || echo "$name")" "$WORK/$name.out"
    else
        grep -v '^ok - ' "$WORK/$name.out" || true
        head -c 2000 "$WORK/$name.err" || true
        bad "$name: $(tail -n 1 "$WORK/$name.out" 2>/dev/null)"
    fi
}

if command -v gcc >/dev/null 2>&1; then
    gcc -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -g -Iinclude tests/c/abi_test.c \
        -L"$TARGET_DIR/release" -Wl,-rpath,"$TARGET_DIR/release" -lmscommerce -lpthread -o "$WORK/abi_test"
    run_c_test "C test (native, shipped release .so)" "$WORK/abi_test" "$URL" "$VERSION"
    if command -v valgrind >/dev/null 2>&1; then
        curl_reset() { python3 -c 'import sys,urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1]+"/_emulator/reset", data=b"{}", method="POST"))' "$URL"; }
        curl_reset
        if valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1 \
            --log-file="$WORK/valgrind.log" "$WORK/abi_test" "$URL" "$VERSION" > "$WORK/vg.out" 2>&1 \
            && grep -q 'ERROR SUMMARY: 0 errors' "$WORK/valgrind.log"; then
            ok "valgrind: $(grep -oE 'definitely lost: .*' "$WORK/valgrind.log" || echo 'all heap blocks freed'), $(tail -n 1 "$WORK/vg.out")"
            count_c_skips "C test under valgrind" "$WORK/vg.out"
        else
            grep -E 'lost|ERROR' "$WORK/valgrind.log" || true
            bad "valgrind: $(tail -n 1 "$WORK/vg.out")"
        fi
        curl_reset
    else
        skip "valgrind run: valgrind is not installed"
    fi
    gcc -std=c99 -Wall -Wextra -Werror -Iinclude tests/c/cold_start.c -ldl -o "$WORK/cold_start"
    TOKEN=$(python3 -c 'import json,sys,urllib.request; r=urllib.request.urlopen(urllib.request.Request(sys.argv[1]+"/_emulator/token", data=b"{\"user\":\"admin\",\"lifetimeSeconds\":3600}", headers={"Content-Type":"application/json"})); print(json.load(r)["access_token"])' "$URL")
    if "$WORK/cold_start" "$SO" "$URL" "$TOKEN" > "$WORK/cold.out" 2>&1; then
        ok "native $(tr '\n' ' ' < "$WORK/cold.out" | sed 's/ $//')"
    else
        bad "cold start: $(cat "$WORK/cold.out")"
    fi
else
    skip "native C test: gcc is not installed"
fi

# ---------------------------------------------------------------- Windows
built_x64=""
for t in $WINDOWS_TARGETS; do
    case $t in
        x86_64-*) objdump=x86_64-w64-mingw32-objdump ;;
        i686-*) objdump=i686-w64-mingw32-objdump ;;
    esac
    if ! rustup target list --installed 2>/dev/null | grep -qx "$t" || ! command -v "$objdump" >/dev/null 2>&1; then
        skip "$t DLL: the rustup target or mingw-w64 is missing"
        continue
    fi
    start=$(date +%s)
    if ! cargo build --release --lib --no-default-features --target "$t" --quiet; then
        bad "$t: the DLL did not build"
        continue
    fi
    dll="$TARGET_DIR/$t/release/mscommerce.dll"
    exports=$("$objdump" -p "$dll" | sed -n '/\[Ordinal\/Name Pointer\] Table/,/^$/p' | awk '/\]/ {print $NF}' | grep -v Table | sort | tr '\n' ' ' | sed 's/ $//')
    if [ "$exports" = "$CONTRACT" ]; then
        ok "$t: mscommerce.dll ($(stat -c %s "$dll") bytes, built in $(( $(date +%s) - start )) s) exports exactly the contract's functions, undecorated"
    else
        bad "$t: mscommerce.dll exports [$exports], the contract [$CONTRACT]"
    fi
    case $t in
        x86_64-*) built_x64=$dll ;;
        i686-*) skip "C test under Wine with the i686 DLL: 32-bit Wine (wine32:i386) cannot be installed from this mirror, so the 32-bit DLL is checked by build and export table only" ;;
    esac
done

if [ -z "$built_x64" ]; then
    skip "C test under Wine: no x64 DLL"
elif [ -z "$WINE64" ]; then
    skip "C test under Wine: wine64 is not installed"
else
    mkdir -p "$WORK/win"
    cp "$built_x64" "$WORK/win/"
    x86_64-w64-mingw32-gcc -std=c99 -O2 -Wall -Wextra -Werror -Iinclude tests/c/abi_test.c \
        "$TARGET_DIR/x86_64-pc-windows-gnu/release/libmscommerce.dll.a" -lws2_32 -o "$WORK/win/abi_test.exe"
    # Test-only stand-in for Wine 8's missing ProcessPrng; never shipped (the
    # Pester run under Wine, tests/windows/run-pester-wine.sh, builds it alike).
    bash tests/windows/build-bcryptprimitives.sh "$WORK/bcryptprimitives.dll"
    export WINEPREFIX="$WORK/wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="bcryptprimitives=n,b;mscoree,mshtml="
    "$WINE64" wineboot --init > "$WORK/wineboot.log" 2>&1 || true
    "$(dirname "$WINE64")/wineserver" -w 2>/dev/null || true
    if [ -d "$WINEPREFIX/drive_c/windows/system32" ]; then
        cp "$WORK/bcryptprimitives.dll" "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
        say "Wine: $("$WINE64" --version 2>/dev/null), test-only bcryptprimitives.dll (ProcessPrng) in the prefix's system32"
        run_c_test wine timeout 600 "$WINE64" "$WORK/win/abi_test.exe" "$URL" "$VERSION"
    else
        bad "Wine: wineboot made no prefix: $(tail -n 5 "$WORK/wineboot.log")"
    fi
fi

say "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
