#!/usr/bin/env bash
# The project's test command (the README names it; CI's .ci/run ends with it).
#
#   bash tests/run.sh [--no-install] [--skip-abi] [--skip-wine] [--setup-only]
#
# Sets up what the tests need, then runs each layer and counts it:
#   Rust        cargo test: the core, the emulator, the CLI, sign-in, the C ABI
#               boundary; then the tests marked #[ignore = "needs TOOL ..."]
#               whose tool is there (cargo test -- --ignored);
#   C ABI       .ci/abi.sh: header, exports, the C test natively, under
#               valgrind and, with the Windows DLL, under Wine (CI runs it
#               first and hands its log over in MSCOMMERCE_ABI_LOG);
#   pytest      tests/powershell: the module parsed with tree-sitter, its
#               surface, the seed article's commands, the C# shim under Mono;
#   Package     tests/package/run.sh: `build.sh package` from the release
#               builds of .ci/abi.sh, then dist/ installed into an empty module
#               path (Install-PSResource, Install-Module, the zip) and imported
#               by name, the seed article's commands against the emulator;
#   Pester      tests/powershell/pester under real pwsh (PATH, else the
#               launcher of ../shared/tools/pwsh/install.sh beside the checkout);
#   Pester on Windows  the same suite again under Windows pwsh 7 in Wine
#               (../shared/tools/winpwsh) against the cross-built win-x64 DLL,
#               the module staged as installed: tests/windows/run-pester-wine.sh.
# Ends with one summary: per layer passed/failed/skipped, every skip with its
# reason, every failure, and as the last line "N passed, N failed, N skipped".
# Exits non-zero when anything failed. What cannot run is counted as skipped,
# never as passed.
#
# Set-up: Python packages go into a project-local virtual environment (.venv,
# or $MSCOMMERCE_TEST_VENV), never into the system Python. Missing Debian
# packages (mono, valgrind, ...) are installed with apt-get when running as
# root; otherwise the one command that installs them is printed and the checks
# that need them are skipped. --no-install (or MSCOMMERCE_TEST_NO_INSTALL=1)
# installs nothing. --skip-abi leaves out .ci/abi.sh (it cross-builds the
# Windows DLLs and installs mingw-w64, Wine and cbindgen), listed as skipped;
# --skip-wine leaves out the Pester run under Wine (it cross-builds the x64 DLL
# and installs Wine and mingw-w64), listed as skipped.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
started=$(date +%s)

INSTALL=yes
RUN_ABI=yes
RUN_WINE=yes
SETUP_ONLY=""
for arg in "$@"; do
    case $arg in
        --no-install) INSTALL="" ;;
        --skip-abi) RUN_ABI="" ;;
        --skip-wine) RUN_WINE="" ;;
        --setup-only) SETUP_ONLY=yes ;;
        -h | --help)
            sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "tests/run.sh: unknown option '$arg' (see --help)" >&2
            exit 2
            ;;
    esac
done
[ -n "${MSCOMMERCE_TEST_NO_INSTALL:-}" ] && INSTALL=""

LOGS=$(mktemp -d "${TMPDIR:-/tmp}/mscommerce-tests.XXXXXX")
trap 'rm -rf "$LOGS"' EXIT

# ------------------------------------------------------------ the summary
LAYERS=()
declare -A PASSED=() FAILED=() SKIPPED=()
SKIPS=()
FAILURES=()
HINTS=()

# count LAYER PASSED FAILED SKIPPED: adds to the layer's counts.
count() {
    local layer=$1
    if [ -z "${PASSED[$layer]+set}" ]; then
        LAYERS+=("$layer")
        PASSED[$layer]=0 FAILED[$layer]=0 SKIPPED[$layer]=0
    fi
    PASSED[$layer]=$((PASSED[$layer] + $2))
    FAILED[$layer]=$((FAILED[$layer] + $3))
    SKIPPED[$layer]=$((SKIPPED[$layer] + $4))
}
# One line of the lists, at most 400 characters.
item() {
    local line="$1: $2"
    [ ${#line} -gt 400 ] && line="${line:0:399}…"
    printf '%s' "$line"
}
# skipped LAYER WHAT: names a skip (counted by count).
skipped() { SKIPS+=("$(item "$1" "$2")"); }
# failed LAYER WHAT: names a failure (counted by count).
failed() { FAILURES+=("$(item "$1" "$2")"); }
# A whole layer that could not run: one skipped item (or N), with its reason.
layer_not_run() { # LAYER REASON [N]
    count "$1" 0 0 "${3:-1}"
    skipped "$1" "${3:+$3 tests }not run: $2"
}
heading() { printf '\n== %s (%d s)\n' "$*" "$(($(date +%s) - started))"; }
strip_colour() { sed 's/\x1b\[[0-9;]*[A-Za-z]//g'; }

summary() {
    local total_p=0 total_f=0 total_s=0 layer
    heading "summary"
    printf '%-52s %7s %7s %8s\n' "layer" "passed" "failed" "skipped"
    for layer in "${LAYERS[@]}"; do
        printf '%-52s %7d %7d %8d\n' "$layer" "${PASSED[$layer]}" "${FAILED[$layer]}" "${SKIPPED[$layer]}"
        total_p=$((total_p + PASSED[$layer]))
        total_f=$((total_f + FAILED[$layer]))
        total_s=$((total_s + SKIPPED[$layer]))
    done
    if [ ${#SKIPS[@]} -gt 0 ]; then
        echo
        echo "skipped (not run, not counted as passed):"
        printf '  - %s\n' "${SKIPS[@]}"
    fi
    if [ ${#FAILURES[@]} -gt 0 ]; then
        echo
        echo "failed:"
        printf '  - %s\n' "${FAILURES[@]}"
    fi
    if [ ${#HINTS[@]} -gt 0 ]; then
        echo
        echo "to run what was skipped:"
        printf '  %s\n' "${HINTS[@]}"
    fi
    echo
    echo "tests/run.sh took $(($(date +%s) - started)) s"
    # The last line: CI and people read it.
    echo "$total_p passed, $total_f failed, $total_s skipped"
    [ "$total_f" -eq 0 ]
}

# ------------------------------------------------------------------ set-up
IS_ROOT=""
[ "$(id -u)" = 0 ] && IS_ROOT=yes
CBINDGEN_VERSION=0.29.4
PYTHON_PACKAGES=("tree-sitter==0.26.1" "tree-sitter-pwsh==0.38.1" "pytest")
VENV=${MSCOMMERCE_TEST_VENV:-$ROOT/.venv}
PY_PROBLEM=""

have() { command -v "$1" >/dev/null 2>&1; }
have_cbindgen() { cbindgen --version 2>/dev/null | grep -q " $CBINDGEN_VERSION\$"; }

setup_system_packages() {
    local missing=()
    have gcc || missing+=(gcc libc6-dev)
    have nm || missing+=(binutils)
    have valgrind || missing+=(valgrind)
    { have mcs && have mono; } || missing+=(mono-mcs mono-runtime)
    have python3 || missing+=(python3)
    if have python3 && ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
        missing+=(python3-venv)
    fi
    [ ${#missing[@]} -eq 0 ] && return 0
    local command="apt-get install -y --no-install-recommends ${missing[*]}"
    if [ -n "$INSTALL" ] && [ -n "$IS_ROOT" ] && have apt-get; then
        echo "setup: installing ${missing[*]} (apt-get)"
        export DEBIAN_FRONTEND=noninteractive
        if apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$LOGS/apt.log" 2>&1; then
            return 0
        fi
        tail -n 20 "$LOGS/apt.log"
        echo "setup: apt-get failed: the checks that need ${missing[*]} are skipped"
    else
        [ -z "$IS_ROOT" ] && command="sudo $command"
        echo "setup: missing ${missing[*]}; the checks that need them are skipped. Install them with:"
        echo "    $command"
    fi
    HINTS+=("$command")
}

setup_cbindgen() {
    have_cbindgen && return 0
    local command="cargo install cbindgen --version $CBINDGEN_VERSION --locked"
    if [ -n "$INSTALL" ]; then
        echo "setup: $command (for the header check)"
        $command --quiet && return 0
        echo "setup: cbindgen did not install: the header check is skipped"
    fi
    HINTS+=("$command")
}

python_ready() {
    [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - >/dev/null 2>&1 <<'PY'
import importlib.metadata as m
assert m.version("tree-sitter") == "0.26.1"
assert m.version("tree-sitter-pwsh") == "0.38.1"
import pytest, tree_sitter, tree_sitter_pwsh  # noqa: F401
PY
}

setup_python() {
    python_ready && return 0
    local command="python3 -m venv ${VENV#"$ROOT"/} && ${VENV#"$ROOT"/}/bin/python -m pip install ${PYTHON_PACKAGES[*]}"
    if [ -z "$INSTALL" ]; then
        PY_PROBLEM="tree-sitter, tree-sitter-pwsh and pytest are not in $VENV (--no-install)"
        HINTS+=("$command")
        return 0
    fi
    echo "setup: Python packages into $VENV: ${PYTHON_PACKAGES[*]}"
    if [ ! -x "$VENV/bin/python" ]; then
        rm -rf "$VENV"
        if ! python3 -m venv "$VENV" >"$LOGS/venv.log" 2>&1; then
            cat "$LOGS/venv.log"
            rm -rf "$VENV"
            PY_PROBLEM="python3 -m venv failed (Debian: apt-get install python3-venv)"
            HINTS+=("$command")
            return 0
        fi
    fi
    if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PYTHON_PACKAGES[@]}" || ! python_ready; then
        PY_PROBLEM="pip could not install ${PYTHON_PACKAGES[*]} into $VENV"
        HINTS+=("$command")
    fi
}

# The pwsh to run Pester with: $PWSH, pwsh on PATH, else the launcher that
# ../shared/tools/pwsh/install.sh unpacks and prints (its last line).
PWSH_PROBLEM=""
find_pwsh() {
    if [ -n "${PWSH:-}" ]; then
        if [ -x "$PWSH" ] || have "$PWSH"; then return 0; fi
        PWSH_PROBLEM="\$PWSH=$PWSH is not a program"
        PWSH=""
        return 0
    fi
    if have pwsh; then
        PWSH=$(command -v pwsh)
        return 0
    fi
    local installer="$ROOT/../shared/tools/pwsh/install.sh"
    if [ -f "$installer" ]; then
        echo "setup: pwsh is not on PATH: taking the one of ../shared/tools/pwsh (its install.sh unpacks it once)"
        PWSH=$(bash "$installer" | tail -n 1)
        if [ -n "$PWSH" ] && [ -x "$PWSH" ]; then
            return 0
        fi
        PWSH_PROBLEM="../shared/tools/pwsh/install.sh printed no pwsh launcher ('$PWSH')"
    else
        PWSH_PROBLEM="pwsh is not on PATH and ../shared/tools/pwsh/install.sh is not beside the checkout (install PowerShell 7 with Pester 5, or set PWSH)"
    fi
    PWSH=""
}

# Where cargo puts its output: $CARGO_TARGET_DIR (absolute or relative to the
# checkout), build.target-dir, or target/.
target_directory() {
    local dir
    dir=$(cargo metadata --format-version 1 --no-deps 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])' 2>/dev/null) || dir=""
    if [ -z "$dir" ]; then
        case "${CARGO_TARGET_DIR:-}" in
            "") dir=$ROOT/target ;;
            /*) dir=$CARGO_TARGET_DIR ;;
            *) dir=$ROOT/$CARGO_TARGET_DIR ;;
        esac
    fi
    echo "$dir"
}

heading "set-up"
setup_system_packages
setup_cbindgen
setup_python
find_pwsh
# The tests that start PowerShell themselves (pytest's, the Pester suite's children) take this one.
[ -n "$PWSH" ] && export PWSH
echo "setup: cargo $(cargo --version | cut -d' ' -f2), python venv: ${PY_PROBLEM:-$VENV}, pwsh: ${PWSH:-none ($PWSH_PROBLEM)}"
if [ -n "$SETUP_ONLY" ]; then
    exit 0
fi

# ------------------------------------------------------------------ layers
RUST="Rust (cargo test)"

# The ignored tests run.sh can run: prints why one cannot run here, or nothing.
ignored_test_problem() {
    case $1 in
        header_is_cbindgens_output) have_cbindgen || echo "cbindgen $CBINDGEN_VERSION is not installed" ;;
        c_program_against_the_emulator)
            [ "$(uname -s)" = Linux ] || echo "not Linux"
            have gcc || echo "gcc is not installed"
            have valgrind || echo "valgrind is not installed"
            ;;
        c_host_thread_with_a_64_kib_stack)
            [ "$(uname -s)" = Linux ] || echo "not Linux"
            have gcc || echo "gcc is not installed"
            ;;
        *) echo "unknown" ;; # its reason says why it is ignored
    esac
}

# cargo test's "test result:" lines of LOG, summed: "PASSED FAILED IGNORED".
cargo_results() {
    strip_colour <"$1" | awk '/^test result: /{
        for (i = 1; i <= NF; i++) {
            if ($(i+1) ~ /^passed/) p += $i
            if ($(i+1) ~ /^failed/) f += $i
            if ($(i+1) ~ /^ignored/) g += $i
        }
    } END { printf "%d %d %d\n", p, f, g }'
}

# "cargo-test-arguments<TAB>test<TAB>reason" for each ignored test of LOG.
cargo_ignored() {
    strip_colour <"$1" | awk '
        /^ *Running unittests src\/lib\.rs/ { target = "--lib"; next }
        /^ *Running unittests src\/main\.rs/ { target = "--bins"; next }
        /^ *Running unittests src\/bin\// { n = $3; sub(/^src\/bin\//, "", n); sub(/(\/main)?\.rs$/, "", n); target = "--bin " n; next }
        /^ *Running tests\// { n = $2; sub(/^tests\//, "", n); sub(/(\/main)?\.rs$/, "", n); target = "--test " n; next }
        /^ *Doc-tests / { target = "--doc"; next }
        /^test .* \.\.\. ignored/ {
            name = $2; reason = $0; sub(/^test .* \.\.\. ignored,? ?/, "", reason)
            printf "%s\t%s\t%s\n", target, name, reason
        }'
}

# cargo test's failed tests in LOG ("    name" lines under "failures:").
cargo_failed_tests() {
    strip_colour <"$1" | awk '/^failures:$/ { list = 1; next } list && /^    [^ ]/ { print $1; next } list && !/^    / { list = 0 }' | sort -u
}

layer_rust() {
    heading "cargo test"
    local log=$LOGS/cargo-test.log rc p f g
    cargo test --no-fail-fast 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    read -r p f g < <(cargo_results "$log")
    count "$RUST" "$p" "$f" 0
    local name
    while read -r name; do failed "$RUST" "$name"; done < <(cargo_failed_tests "$log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        count "$RUST" 0 1 0
        failed "$RUST" "cargo test exited $rc with no failed test: a build error or a crashed test binary (output above)"
    fi

    # The ignored tests: each needs a tool; run those whose tool is here.
    declare -A run_now=()
    local target test reason problem
    while IFS=$'\t' read -r target test reason; do
        problem=$(ignored_test_problem "$test" | paste -sd ';' | sed 's/;/; /g')
        if [ "$problem" = unknown ]; then
            count "$RUST" 0 0 1
            skipped "$RUST" "$test ($target): ${reason:-ignored, no reason given}"
        elif [ -n "$problem" ] || [ -z "$target" ] || [ "$target" = --doc ]; then
            count "$RUST" 0 0 1
            skipped "$RUST" "$test ($target): ${problem:+$problem: }${reason:-ignored}"
        else
            run_now[$target]="${run_now[$target]:-} $test"
        fi
    done < <(cargo_ignored "$log")
    for target in "${!run_now[@]}"; do
        heading "cargo test $target -- --ignored${run_now[$target]}"
        log=$LOGS/cargo-test-ignored.log
        # shellcheck disable=SC2086
        cargo test --no-fail-fast $target -- --ignored --exact ${run_now[$target]} 2>&1 | tee "$log"
        rc=${PIPESTATUS[0]}
        read -r p f g < <(cargo_results "$log")
        count "$RUST" "$p" "$f" 0
        while read -r name; do failed "$RUST" "$name"; done < <(cargo_failed_tests "$log")
        local wanted
        wanted=$(echo ${run_now[$target]} | wc -w)
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
            count "$RUST" 0 1 0
            failed "$RUST" "cargo test $target -- --ignored exited $rc with no failed test (output above)"
        elif [ $((p + f)) -ne "$wanted" ]; then
            count "$RUST" 0 1 0
            failed "$RUST" "cargo test $target -- --ignored ran $((p + f)) of the $wanted tests asked for:${run_now[$target]}"
        fi
    done
}

BUILD_PROBLEM=""
build_for_the_module() {
    # `cargo test` builds the library only as an rlib: build the cdylib and
    # the CLI the Mono and Pester tests drive (debug profile, incremental).
    heading "cargo build --lib --bins (the .so and the CLI for the PowerShell tests)"
    local target_dir
    target_dir=$(target_directory)
    if ! cargo build --lib --bins 2>&1; then
        BUILD_PROBLEM="cargo build --lib --bins failed"
    fi
    export MSCOMMERCE_TEST_LIBRARY="${MSCOMMERCE_TEST_LIBRARY:-$target_dir/debug/libmscommerce.so}"
    export MSCOMMERCE_TEST_BIN="${MSCOMMERCE_TEST_BIN:-$target_dir/debug/mscommerce}"
    local f
    for f in "$MSCOMMERCE_TEST_LIBRARY" "$MSCOMMERCE_TEST_BIN"; do
        [ -e "$f" ] || BUILD_PROBLEM="${BUILD_PROBLEM:+$BUILD_PROBLEM; }$f is missing after the build"
    done
    if [ -n "$BUILD_PROBLEM" ]; then
        count "build" 0 1 0
        failed "build" "$BUILD_PROBLEM"
    fi
    # The module's precompiled C# shim (bin/MSCommerce.Native.dll), so that Pester tests the module
    # as it ships; without mcs it compiles the shim with Add-Type at import (pytest tests both).
    if have mcs; then
        bash build.sh --shim-only 2>&1 || { count "build" 0 1 0; failed "build" "build.sh --shim-only failed"; }
    fi
    echo "library: $MSCOMMERCE_TEST_LIBRARY"
    echo "CLI:     $MSCOMMERCE_TEST_BIN"
}

# .ci/abi.sh's lines, counted in the layers a reader asks about.
abi_layer_of() {
    case $1 in
        *valgrind*) echo "C ABI: C test under valgrind" ;;
        *Wine* | wine:*) echo "C ABI: C test under Wine" ;;
        *native* | *cold\ start*) echo "C ABI: C test, native" ;;
        *) echo "C ABI: header, exports, Windows DLLs" ;;
    esac
}

layer_abi() {
    local log rc
    if [ -n "${MSCOMMERCE_ABI_LOG:-}" ]; then
        heading "C ABI: .ci/abi.sh's results (run before, log $MSCOMMERCE_ABI_LOG)"
        log=$MSCOMMERCE_ABI_LOG
        rc=${MSCOMMERCE_ABI_RC:-0}
    elif [ -z "$RUN_ABI" ]; then
        layer_not_run "C ABI (.ci/abi.sh)" "header, Windows DLLs, the C test natively, under valgrind and Wine: --skip-abi"
        return 0
    else
        heading "C ABI: bash .ci/abi.sh"
        log=$LOGS/abi.log
        bash .ci/abi.sh 2>&1 | tee "$log"
        rc=${PIPESTATUS[0]}
    fi
    local line kind what layer p=0 f=0 s=0
    while IFS= read -r line; do
        kind=${line#abi: }
        kind=${kind%% - *}
        what=${line#abi: * - }
        layer=$(abi_layer_of "$what")
        case $kind in
            ok) count "$layer" 1 0 0 && p=$((p + 1)) ;;
            FAILED) count "$layer" 0 1 0 && failed "C ABI" "$what" && f=$((f + 1)) ;;
            SKIPPED) count "$layer" 0 0 1 && skipped "C ABI" "$what" && s=$((s + 1)) ;;
        esac
    done < <(strip_colour <"$log" | grep -E '^abi: (ok|FAILED|SKIPPED) - ')
    local total
    total=$(strip_colour <"$log" | grep -E '^abi: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' | tail -n 1)
    if [ -z "$total" ]; then
        count "C ABI: header, exports, Windows DLLs" 0 1 0
        failed "C ABI" ".ci/abi.sh exited $rc before its summary line (output above)"
    elif [ "${total#abi: }" != "$p passed, $f failed, $s skipped" ]; then
        count "C ABI: header, exports, Windows DLLs" 0 1 0
        failed "C ABI" ".ci/abi.sh says '${total#abi: }', its lines count $p passed, $f failed, $s skipped"
    elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        count "C ABI: header, exports, Windows DLLs" 0 1 0
        failed "C ABI" ".ci/abi.sh exited $rc with no failed check"
    fi
}

layer_pytest() {
    local layer="PowerShell static + Mono (pytest)"
    if [ -n "$PY_PROBLEM" ]; then
        layer_not_run "$layer" "$PY_PROBLEM"
        return 0
    fi
    heading "pytest tests/powershell"
    local log=$LOGS/pytest.log rc
    "$VENV/bin/python" -m pytest tests/powershell -q -rfEs -p no:cacheprovider 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    local last p f e s
    last=$(strip_colour <"$log" | grep -E '^=* ?([0-9]+ (passed|failed|skipped|errors?|xfailed|xpassed|deselected|warnings?)(, )?)+.* in [0-9.]+s' | tail -n 1)
    pick() { echo "$last" | grep -oE "[0-9]+ $1" | head -n 1 | cut -d' ' -f1; }
    p=$(pick passed) f=$(pick failed) e=$(pick 'errors?') s=$(pick skipped)
    local xp xf
    xp=$(pick xpassed) xf=$(pick xfailed)
    count "$layer" "${p:-0}" $((${f:-0} + ${e:-0} + ${xp:-0})) $((${s:-0} + ${xf:-0}))
    local line n
    while IFS= read -r line; do
        # "SKIPPED [N] path:line: reason"
        n=$(echo "$line" | sed -E 's/^SKIPPED \[([0-9]+)\].*/\1/')
        line=$(echo "$line" | sed -E 's/^SKIPPED \[[0-9]+\] //')
        [ "$n" -gt 1 ] && line="$line ($n tests)"
        skipped "pytest" "$line"
    done < <(strip_colour <"$log" | grep -E '^SKIPPED \[[0-9]+\] ')
    while IFS= read -r line; do failed "pytest" "${line#FAILED }"; done < <(strip_colour <"$log" | grep -E '^(FAILED|ERROR|XPASS) ')
    if [ "$rc" -ne 0 ] && [ $((${f:-0} + ${e:-0})) -eq 0 ]; then
        count "$layer" 0 1 0
        failed "pytest" "pytest exited $rc with no failed test (5: no test collected; output above)"
    fi
}

# The release package: needs the DLLs .ci/abi.sh built (it compares them).
layer_package() {
    local layer="Package (build.sh package, installed, imported)"
    if [ -z "$RUN_ABI" ]; then
        layer_not_run "$layer" "it packs and compares the DLLs of .ci/abi.sh: --skip-abi"
    elif [ -n "$PWSH_PROBLEM" ]; then
        layer_not_run "$layer" "$PWSH_PROBLEM"
    else
        run_pester "$layer" package bash tests/package/run.sh
    fi
}

# run_pester LAYER LABEL COMMAND...: runs Invoke-PesterSuite.ps1 with COMMAND
# (a pwsh and its arguments) and counts its "LABEL: N passed, ..." line.
run_pester() {
    local layer=$1 label=$2
    shift 2
    heading "$layer"
    local log=$LOGS/$label.log rc
    if have timeout; then set -- timeout 1800 "$@"; fi
    "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    local total
    total=$(strip_colour <"$log" | grep -E "^$label: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped\$" | tail -n 1)
    local line
    while IFS= read -r line; do skipped "$label" "${line#"$label skipped: "}"; done < <(strip_colour <"$log" | grep -E "^$label skipped: ")
    while IFS= read -r line; do failed "$label" "${line#"$label failed: "}"; done < <(strip_colour <"$log" | grep -E "^$label failed: ")
    if [ -z "$total" ]; then
        count "$layer" 0 1 0
        failed "$label" "the suite exited $rc without its summary line (output above)"
        return 0
    fi
    local p f s
    read -r p f s < <(echo "${total#"$label: "}" | grep -oE '[0-9]+' | paste -sd ' ')
    count "$layer" "$p" "$f" "$s"
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        count "$layer" 0 1 0
        failed "$label" "the suite exited $rc with no failed test"
    fi
}

layer_pester() {
    local layer="PowerShell behaviour (Pester)"
    local tests
    tests=$(cat tests/powershell/pester/*.Tests.ps1 2>/dev/null | grep -cE '^\s*It\s')
    if [ -n "$PWSH_PROBLEM" ]; then
        layer_not_run "$layer" "$PWSH_PROBLEM" "$tests"
    elif [ -n "$BUILD_PROBLEM" ]; then
        layer_not_run "$layer" "$BUILD_PROBLEM" "$tests"
    else
        layer="PowerShell behaviour (Pester, pwsh $("$PWSH" -NoProfile -NonInteractive -Command '$PSVersionTable.PSVersion.ToString()' 2>/dev/null | tr -d '\r'))"
        run_pester "$layer" pester "$PWSH" -NoProfile -NonInteractive -File tests/powershell/Invoke-PesterSuite.ps1 -Label pester
    fi
}

# The same suite under Windows pwsh in Wine, counted on its own line; the
# script builds, stages, prepares the prefix and the emulators, and cleans up.
layer_pester_wine() {
    local layer="PowerShell on Windows (Pester, Wine, win-x64 DLL)"
    if [ -z "$RUN_WINE" ]; then
        layer_not_run "$layer" "the Pester suite under Windows pwsh in Wine against the win-x64 DLL: --skip-wine"
        return 0
    fi
    local options=(--label winpester)
    [ -z "$INSTALL" ] && options+=(--no-install)
    run_pester "$layer" winpester bash tests/windows/run-pester-wine.sh "${options[@]}"
}

layer_rust
build_for_the_module
layer_abi
layer_pytest
layer_pester
layer_pester_wine
layer_package
summary
