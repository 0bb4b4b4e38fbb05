#!/usr/bin/env bash
# The module's Pester suite on the Windows code path: Windows PowerShell 7 (x64) under Wine 8
# (../shared/tools/winpwsh), the module staged as an installed module would be (a copy of
# ps-module/MSCommerce with the cross-built win-x64 mscommerce.dll in runtimes/win-x64/native/ and
# the precompiled C# shim in bin/), in a folder whose path has spaces and non-ASCII characters.
#
#   bash tests/windows/run-pester-wine.sh [--no-install] [--label LABEL] [PESTER_PATH...]
#
# Steps: installs what is missing (as root, with apt-get: wine64 wine gcc-mingw-w64-x86-64
# mono-mcs curl python3; rustup target x86_64-pc-windows-gnu); builds the DLL exactly as .ci/abi.sh does
# (cargo build --release --lib --no-default-features --target x86_64-pc-windows-gnu, same target
# directory: built once for both), the Linux CLI that runs the emulators (cargo build --bin
# mscommerce) and the shim (build.sh --shim-only); stages the module; makes a Wine prefix of its
# own with the bcryptprimitives.dll stand-in in system32 (tests/windows/build-bcryptprimitives.sh;
# WINEDLLOVERRIDES=bcryptprimitives=n,b, never mscoree=); starts a plain, a TLS and a proxy
# emulator on the Linux side on 127.0.0.1 (Wine programs share the host's network) and a browser
# stand-in (xdg-open on PATH, which Wine's winebrowser starts for a URL opened through the Windows
# shell, that fetches the URL with curl); runs tests/powershell/Invoke-PesterSuite.ps1 under
# winpwsh; stops all that and removes the prefix.
#
# Output: the suite's, ending with "LABEL: N passed, N failed, N skipped" (LABEL defaults to
# winpester) after a "LABEL skipped: ..." line for each skip with its reason and a
# "LABEL failed: ..." line for each failure. Exit code: 0 when nothing failed (also when the run
# could not start here for a missing tool: then one "skipped" line says why), 124 when the run hung
# (WINPWSH_TIMEOUT seconds, default 1200: a hang is a failure, never a pass), else non-zero.
#
# Environment: WINPWSH (a winpwsh launcher; default: ../shared/tools/winpwsh/install.sh beside the
# checkout), WINPWSH_TIMEOUT, MSCOMMERCE_WINE_PREFIX (reuse this prefix instead of a new one per
# run: faster, but the prefix keeps what the tests leave in it), MSCOMMERCE_TEST_NO_INSTALL=1 (as
# --no-install), CARGO_TARGET_DIR.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
ROOT=$PWD
started=$(date +%s)

LABEL=winpester
INSTALL=yes
PESTER_PATHS=()
while [ $# -gt 0 ]; do
    case $1 in
        --no-install) INSTALL="" ;;
        --label)
            LABEL=${2:?--label needs a value}
            shift
            ;;
        -h | --help)
            sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        -*)
            echo "run-pester-wine.sh: unknown option '$1' (see --help)" >&2
            exit 2
            ;;
        *) PESTER_PATHS+=("$1") ;;
    esac
    shift
done
[ -n "${MSCOMMERCE_TEST_NO_INSTALL:-}" ] && INSTALL=""

say() { printf '%s: %s\n' "$LABEL" "$*"; }
elapsed() { echo "$(($(date +%s) - started)) s"; }
# The run could not happen: one failed item, countable like the suite's own summary.
fail_run() {
    say "failed: the run under Wine: $*"
    say "0 passed, 1 failed, 0 skipped"
    exit 1
}
# The run cannot happen here for a missing tool: one skipped item with its reason.
skip_run() {
    say "skipped: the whole suite under Windows pwsh in Wine (win-x64 DLL): not run: $*"
    say "0 passed, 0 failed, 1 skipped"
    exit 0
}
have() { command -v "$1" >/dev/null 2>&1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mscommerce-winpester.XXXXXX")
EMULATOR_PIDS=()
RUN_PID=""
PREFIX=""
OWN_PREFIX=""
WINESERVER=""
cleanup() {
    local pid
    if [ -n "$RUN_PID" ]; then kill "$RUN_PID" 2>/dev/null && wait "$RUN_PID" 2>/dev/null; fi
    for pid in "${EMULATOR_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${EMULATOR_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    if [ -n "$OWN_PREFIX" ] && [ -d "$PREFIX" ]; then
        # Only this run's own prefix: its wineserver and what still runs in it.
        [ -n "$WINESERVER" ] && WINEPREFIX=$PREFIX "$WINESERVER" -k 2>/dev/null
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

# ------------------------------------------------------------------ set-up
missing=()
have wine || [ -x /usr/lib/wine/wine64 ] || missing+=(wine64 wine)
have x86_64-w64-mingw32-gcc || missing+=(gcc-mingw-w64-x86-64)
have mcs || missing+=(mono-mcs)
have curl || missing+=(curl)
have python3 || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
    if [ -n "$INSTALL" ] && [ "$(id -u)" = 0 ] && have apt-get; then
        say "installing ${missing[*]} (apt-get)"
        export DEBIAN_FRONTEND=noninteractive
        if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$WORK/apt.log" 2>&1; then
            tail -n 20 "$WORK/apt.log"
            say "apt-get install ${missing[*]} failed"
        fi
    else
        say "missing ${missing[*]}: install them with apt-get install -y ${missing[*]}"
    fi
fi
have wine || [ -x /usr/lib/wine/wine64 ] || skip_run "Wine is not installed (apt-get install -y wine64 wine)"
have x86_64-w64-mingw32-gcc || skip_run "mingw-w64 is not installed (apt-get install -y gcc-mingw-w64-x86-64): it builds the bcryptprimitives.dll stand-in Rust DLLs need under Wine 8"
have curl || skip_run "curl is not installed (apt-get install -y curl): the browser stand-in needs it"
have python3 || skip_run "python3 is not installed (apt-get install -y python3): it reads cargo's build messages"
for w in /usr/lib/wine/wineserver "$(command -v wineserver 2>/dev/null)"; do
    if [ -n "$w" ] && [ -x "$w" ]; then WINESERVER=$w; break; fi
done

TARGET=x86_64-pc-windows-gnu
if ! rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
    if [ -n "$INSTALL" ]; then
        say "rustup target add $TARGET"
        rustup target add "$TARGET" >/dev/null 2>&1 || fail_run "rustup target add $TARGET failed"
    else
        skip_run "the rustup target $TARGET is not installed (--no-install): rustup target add $TARGET"
    fi
fi

WINPWSH=${WINPWSH:-}
if [ -z "$WINPWSH" ]; then
    installer=$ROOT/../shared/tools/winpwsh/install.sh
    [ -f "$installer" ] || skip_run "no winpwsh: set WINPWSH, or put shared/tools/winpwsh beside the checkout"
    WINPWSH=$(bash "$installer" | tail -n 1)
fi
[ -x "$WINPWSH" ] || fail_run "the winpwsh launcher '$WINPWSH' is not a program"
winpath() { "$WINPWSH" --winpath "$@"; }

# ------------------------------------------------------------------ builds
# cargo_build SUFFIX ARGS...: cargo build ARGS, then prints the path of the mscommerce artifact
# whose name ends in SUFFIX, as cargo reports it (whatever the target directory).
cargo_build() {
    local suffix=$1
    shift
    cargo build "$@" --message-format=json-render-diagnostics >"$WORK/cargo.json" || return 1
    python3 - "$suffix" "$WORK/cargo.json" <<'PY'
import json, sys
suffix, found = sys.argv[1], ""
for line in open(sys.argv[2], encoding="utf-8"):
    try:
        message = json.loads(line)
    except ValueError:
        continue
    if message.get("reason") == "compiler-artifact" and message["target"]["name"] == "mscommerce":
        for name in message.get("filenames", []) + [message.get("executable") or ""]:
            if name.endswith(suffix):
                found = name
print(found)
PY
}
step=$(date +%s)
# The same command and profile as .ci/abi.sh and build.sh: one build serves them all.
DLL=$(cargo_build /mscommerce.dll --release --lib --no-default-features --target "$TARGET") || fail_run "cargo build of the $TARGET DLL failed"
[ -n "$DLL" ] && [ -f "$DLL" ] || fail_run "cargo build named no mscommerce.dll for $TARGET ('$DLL')"
# The Linux CLI runs the emulators (debug, as tests/run.sh and .ci/abi.sh build it).
EMULATOR_BIN=$(cargo_build /mscommerce --bin mscommerce) || fail_run "cargo build --bin mscommerce failed"
[ -n "$EMULATOR_BIN" ] && [ -x "$EMULATOR_BIN" ] || fail_run "cargo build named no mscommerce program ('$EMULATOR_BIN')"
if have mcs; then
    bash build.sh --shim-only >"$WORK/shim.log" 2>&1 || { cat "$WORK/shim.log"; fail_run "build.sh --shim-only failed"; }
fi
bash tests/windows/build-bcryptprimitives.sh "$WORK/bcryptprimitives.dll" || fail_run "the bcryptprimitives.dll stand-in did not build"
say "built in $(($(date +%s) - step)) s: $DLL ($(stat -c %s "$DLL") bytes)"

# ------------------------------------------------- the module, as installed
# A module folder (as in $env:PSModulePath) with spaces and non-ASCII characters in its path.
VERSION=$(sed -n "s/^ *ModuleVersion *= *'\([^']*\)'.*/\1/p" ps-module/MSCommerce/MSCommerce.psd1 | head -n 1)
[ -n "$VERSION" ] || fail_run "no ModuleVersion in ps-module/MSCommerce/MSCommerce.psd1"
MODULES="$WORK/Modules – ü ö 模块"
STAGE="$MODULES/MSCommerce/$VERSION"
mkdir -p "$STAGE"
cp -R ps-module/MSCommerce/. "$STAGE/"
rm -rf "$STAGE/runtimes"
mkdir -p "$STAGE/runtimes/win-x64/native"
cp "$DLL" "$STAGE/runtimes/win-x64/native/mscommerce.dll"
if [ -f "$STAGE/bin/MSCommerce.Native.dll" ]; then
    say "module staged in '$STAGE' (precompiled shim bin/MSCommerce.Native.dll)"
else
    say "module staged in '$STAGE' WITHOUT bin/MSCommerce.Native.dll (mcs is missing): it compiles the shim with Add-Type"
fi

# ------------------------------------------------------------ Wine prefix
if [ -n "${MSCOMMERCE_WINE_PREFIX:-}" ]; then
    PREFIX=$MSCOMMERCE_WINE_PREFIX
else
    PREFIX=$WORK/prefix
    OWN_PREFIX=yes
fi
export WINPWSH_PREFIX=$PREFIX
step=$(date +%s)
"$WINPWSH" --prefix >"$WORK/prefix.log" 2>&1 || { cat "$WORK/prefix.log"; fail_run "winpwsh could not create the Wine prefix $PREFIX"; }
[ -d "$PREFIX/drive_c/windows/system32" ] || fail_run "the Wine prefix $PREFIX has no system32"
cp "$WORK/bcryptprimitives.dll" "$PREFIX/drive_c/windows/system32/bcryptprimitives.dll"
export WINEDLLOVERRIDES=bcryptprimitives=n,b
say "Wine prefix $PREFIX ready in $(($(date +%s) - step)) s ($(wine --version 2>/dev/null), bcryptprimitives.dll stand-in in system32)"

# ---------------------------------------------------------------- emulators
# start_emulator NAME ARGS...: sets URL_<NAME>.
start_emulator() {
    local name=$1
    shift
    "$EMULATOR_BIN" emulator --port 0 "$@" >"$WORK/emulator-$name.out" 2>"$WORK/emulator-$name.err" &
    EMULATOR_PIDS+=($!)
    local url="" _
    for _ in $(seq 1 200); do
        url=$(head -n 1 "$WORK/emulator-$name.out" 2>/dev/null | sed -n 's/^Emulator listening on \([^ ]*\).*/\1/p')
        [ -n "$url" ] && break
        kill -0 "${EMULATOR_PIDS[-1]}" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$url" ] || fail_run "the $name emulator did not start: $(head -c 600 "$WORK/emulator-$name.err")"
    printf -v "URL_$name" '%s' "${url%/}"
}
start_emulator plain
start_emulator tls --tls --ca-out "$WORK/emulator-ca.pem"
start_emulator proxy
say "emulators (Linux side): $URL_plain, $URL_tls, proxy $URL_proxy"

# ------------------------------------------------------- the browser stand-in
# Wine opens a URL given to the Windows shell (Start-Process) with winebrowser, which starts the
# first of xdg-open, firefox, ... on the Linux PATH it inherited: this xdg-open plays a browser
# whose user is signed in to the emulator (POST /_emulator/browser), and logs each URL.
mkdir -p "$WORK/browser"
cat >"$WORK/browser/xdg-open" <<BROWSER
#!/bin/sh
printf '%s\n' "\$1" >>'$WORK/browser.log'
exec curl --silent --show-error --location --max-redirs 5 --max-time 30 --output /dev/null "\$1"
BROWSER
chmod +x "$WORK/browser/xdg-open"
: >"$WORK/browser.log"

# ------------------------------------------------------------------- the run
export PATH="$WORK/browser:$PATH"
export MSCOMMERCE_TEST_MODULE MSCOMMERCE_TEST_LIBRARY MSCOMMERCE_TEST_CA_FILE MSCOMMERCE_TEST_BROWSER_LOG
MSCOMMERCE_TEST_MODULE=$(winpath "$STAGE/MSCommerce.psd1")
MSCOMMERCE_TEST_LIBRARY=$(winpath "$STAGE/runtimes/win-x64/native/mscommerce.dll")
MSCOMMERCE_TEST_CA_FILE=$(winpath "$WORK/emulator-ca.pem")
MSCOMMERCE_TEST_BROWSER_LOG=$(winpath "$WORK/browser.log")
export MSCOMMERCE_TEST_EMULATOR_URL=$URL_plain
export MSCOMMERCE_TEST_TLS_EMULATOR_URL=$URL_tls
export MSCOMMERCE_TEST_PROXY_EMULATOR_URL=$URL_proxy
export MSCOMMERCE_TEST_BROWSER=stand-in
unset MSCOMMERCE_TEST_BIN MSCOMMERCE_NATIVE_LIBRARY
export NO_COLOR=1
export WINPWSH_TIMEOUT=${WINPWSH_TIMEOUT:-1200}

# psquote TEXT: TEXT as a PowerShell single-quoted string.
psquote() { printf "'%s'" "${1//\'/\'\'}"; }
suite=$(winpath tests/powershell/Invoke-PesterSuite.ps1)
if [ ${#PESTER_PATHS[@]} -le 1 ]; then
    args=(-NoProfile -NonInteractive -File "$suite" -Label "$LABEL")
    if [ ${#PESTER_PATHS[@]} -eq 1 ]; then args+=(-Path "$(winpath "${PESTER_PATHS[0]}")"); fi
else
    # Several paths: -File would pass "a,b" as one path, so a command passes them as an array.
    list=""
    for p in "${PESTER_PATHS[@]}"; do list+="${list:+,}$(psquote "$(winpath "$p")")"; done
    args=(-NoProfile -NonInteractive -Command "& $(psquote "$suite") -Label $(psquote "$LABEL") -Path $list; exit \$LASTEXITCODE")
fi

say "set-up took $(elapsed); running the suite under $WINPWSH (timeout ${WINPWSH_TIMEOUT} s)"
step=$(date +%s)
# In the background, so that a TERM to this script stops the run at once (the launcher then kills
# the Windows processes it started).
exec 4> >(tr -d '\r' | tee "$WORK/run.log")
TEE_PID=$!
"$WINPWSH" "${args[@]}" >&4 2>&1 &
RUN_PID=$!
exec 4>&-
wait "$RUN_PID"
rc=$?
RUN_PID=""
# The output is all there once tee has read to the end (not a bare wait: the emulators run on).
wait "$TEE_PID" 2>/dev/null
say "the suite ran in $(($(date +%s) - step)) s under winpwsh (exit $rc); $(elapsed) in all"
if [ "$rc" -eq 124 ]; then
    say "failed: the run under Wine hung and was killed after WINPWSH_TIMEOUT=${WINPWSH_TIMEOUT} s (a hang is a failure; the output above shows how far it got)"
    say "0 passed, 1 failed, 0 skipped"
    exit 124
fi
if ! grep -qE "^$LABEL: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped\$" "$WORK/run.log"; then
    say "failed: the suite exited $rc without its summary line (output above)"
    say "0 passed, 1 failed, 0 skipped"
    [ "$rc" -ne 0 ] && exit "$rc"
    exit 1
fi
# The suite's summary, again as the last line.
grep -E "^$LABEL: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped\$" "$WORK/run.log" | tail -n 1
exit "$rc"
