#!/usr/bin/env bash
# Benchmark (not a test): what `Import-Module MSCommerce` costs over a bare
# PowerShell start, and what the first native call adds, with the precompiled
# shim (bin/MSCommerce.Native.dll) and with the Add-Type fallback of a source
# checkout, measured side by side in one run: N rounds, each running in turn
#   pwsh -NoProfile -Command exit
#   pwsh -NoProfile -Command 'Import-Module <module with bin/>; exit'
#   pwsh -NoProfile -Command 'Import-Module <module with bin/>; <first call>; exit'
#   pwsh -NoProfile -Command 'Import-Module <module without bin/>; <first call>; exit'
#   the import again, starting from the JIT profile of a bare start (see measure)
# after one unmeasured warm-up round; prints the medians, the costs over the
# bare start and the ratios. The import defines the public functions and the
# argument completers and finds the library; the first call loads the private
# scripts, the shim and the library (ps-module/MSCommerce/Private/Import.ps1).
# Goal: import under 0.30 s over bare pwsh. Other work on the machine slows
# every variant (the wall times more than the CPU times): measure on an idle one.
#
#   benches/module-import.sh [N] [MODULE_DIR]
#       N: rounds (default 10, a multiple of 5: the order rotates); MODULE_DIR: the module folder to measure
#       (default ps-module/MSCommerce; another, to compare a change)
#
# PowerShell: $PWSH, else pwsh on PATH, else ../shared/tools/pwsh/install.sh.
# Native library: $MSCOMMERCE_NATIVE_LIBRARY, else the module's staged
# runtimes/<rid>/native (build.sh), else target/release, else target/debug.
# The shim: the module's bin/MSCommerce.Native.dll when built (build.sh),
# else compiled here with mcs as build.sh does. Both variants run from
# copies of ps-module/MSCommerce in a temporary folder laid out as shipped
# (the library in runtimes/<rid>/native/, MSCOMMERCE_NATIVE_LIBRARY unset).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
runs=${1:-10}
MODULE=$(cd "${2:-$ROOT/ps-module/MSCommerce}" && pwd)
case $runs in '' | *[!0-9]* | 0) echo "module-import.sh: N must be a positive number" >&2; exit 2 ;; esac

pwsh=${PWSH:-}
if [ -z "$pwsh" ]; then
    pwsh=$(command -v pwsh || true)
fi
if [ -z "$pwsh" ] && [ -x "$ROOT/../shared/tools/pwsh/install.sh" ]; then
    pwsh=$("$ROOT/../shared/tools/pwsh/install.sh" | tail -1)
fi
if [ -z "$pwsh" ] || [ ! -x "$pwsh" ]; then
    echo "module-import.sh: no PowerShell: set PWSH or put pwsh on PATH" >&2
    exit 1
fi

case "$(uname -s)/$(uname -m)" in
    Linux/x86_64 | Linux/amd64) rid=linux-x64 file=libmscommerce.so ;;
    Linux/aarch64 | Linux/arm64) rid=linux-arm64 file=libmscommerce.so ;;
    Darwin/x86_64) rid=osx-x64 file=libmscommerce.dylib ;;
    Darwin/arm64) rid=osx-arm64 file=libmscommerce.dylib ;;
    *) echo "module-import.sh: no runtime id for $(uname -s)/$(uname -m)" >&2; exit 1 ;;
esac

library=${MSCOMMERCE_NATIVE_LIBRARY:-}
if [ -z "$library" ]; then
    for candidate in "$MODULE/runtimes/$rid/native/$file" \
        "${CARGO_TARGET_DIR:-$ROOT/target}/release/$file" \
        "${CARGO_TARGET_DIR:-$ROOT/target}/debug/$file"; do
        if [ -f "$candidate" ]; then
            library=$candidate
            break
        fi
    done
fi
if [ -z "$library" ] || [ ! -f "$library" ]; then
    echo "module-import.sh: native library not found: build it (./build.sh or cargo build --lib) or set MSCOMMERCE_NATIVE_LIBRARY" >&2
    exit 1
fi
unset MSCOMMERCE_NATIVE_LIBRARY

work=$(mktemp -d "${TMPDIR:-/tmp}/mscommerce-import-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
stage() {
    mkdir -p "$work/$1"
    cp -R "$MODULE" "$work/$1/MSCommerce"
    rm -rf "$work/$1/MSCommerce/bin" "$work/$1/MSCommerce/runtimes"
    mkdir -p "$work/$1/MSCommerce/runtimes/$rid/native"
    cp "$library" "$work/$1/MSCommerce/runtimes/$rid/native/$file"
}
stage precompiled
stage fallback
mkdir -p "$work/precompiled/MSCommerce/bin"
shim="$work/precompiled/MSCommerce/bin/MSCommerce.Native.dll"
if [ -f "$MODULE/bin/MSCommerce.Native.dll" ]; then
    cp "$MODULE/bin/MSCommerce.Native.dll" "$shim"
    shim_from="the module's bin/ (build.sh)"
elif command -v mcs >/dev/null 2>&1; then
    mcs -noconfig -langversion:5 -target:library -r:System.dll -warnaserror+ -out:"$shim" "$MODULE/src/MSCommerce.Native.cs"
    shim_from="mcs, here"
else
    echo "module-import.sh: no bin/MSCommerce.Native.dll and no mcs to build it (./build.sh)" >&2
    exit 1
fi

# The import loads no native code (the first call does): "import" is the import alone, "call" the
# import and a first native call (Get-MSCommerceConnectionInfo, answered by the library without the
# network), with the precompiled shim and with the Add-Type fallback.
first_call='$null = Get-MSCommerceConnectionInfo -ErrorAction SilentlyContinue'
# "first" is the import again, with the JIT profile a bare start leaves (see measure): the first
# import in a session after sessions that did not import the module.
names=(bare import call fallback first)
commands=(
    'exit'
    "Import-Module -Name '$work/precompiled/MSCommerce/MSCommerce.psd1' -ErrorAction Stop; exit"
    "Import-Module -Name '$work/precompiled/MSCommerce/MSCommerce.psd1' -ErrorAction Stop; $first_call; exit"
    "Import-Module -Name '$work/fallback/MSCommerce/MSCommerce.psd1' -ErrorAction Stop; $first_call; exit"
    "Import-Module -Name '$work/precompiled/MSCommerce/MSCommerce.psd1' -ErrorAction Stop; exit"
)

# measure <variant> <command>: runs pwsh once, prints "<wall s> <cpu s>" (CPU: user + system
# of pwsh and its children, less disturbed than the wall time by other work).
#
# Each variant has its own cache folder (XDG_CACHE_HOME): pwsh writes a JIT profile of its startup
# there at exit (StartupProfileData-NonInteractive) and compiles what it lists in the background
# at the next start. Shared, each run would start with the profile of the run before it, of
# another variant: measured here, the same module imported three times in a row after a bare
# start, 12 rounds, cost 0.41, 0.27 and 0.28 s over bare. Own folders measure each variant as a
# user who runs it every time has it (the warm-up round writes the first profile); "first" starts
# from a copy of the bare start's folder every time.
measure() {
    local TIMEFORMAT='%R %U %S' timing
    mkdir -p "$work/cache/$1"
    if [ "$1" = first ] && [ -d "$work/cache/bare" ]; then
        rm -rf "$work/cache/first"
        cp -R "$work/cache/bare" "$work/cache/first"
    fi
    if ! timing=$( { time XDG_CACHE_HOME="$work/cache/$1" "$pwsh" -NoProfile -Command "$2" >"$work/out" 2>&1; } 2>&1 ); then
        echo "module-import.sh: failed: pwsh -NoProfile -Command \"$2\"" >&2
        cat "$work/out" >&2
        exit 1
    fi
    echo "$timing" | awk '{ printf "%.3f %.3f", $1, $2 + $3 }'
}

median() {
    tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "pwsh:    $pwsh ($("$pwsh" -NoProfile -Command '$PSVersionTable.PSVersion.ToString()'))"
echo "module:  $MODULE"
echo "library: $library"
echo "shim:    $shim_from"
echo "runs:    $runs rounds of bare / import / import+call / import+call with the fallback / import after bare starts, each round starting one further (after 1 warm-up round)"
loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime | sed 's/.*average[s]*: //'; }
echo "load:    $(loadavg) ($(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?') CPUs; other work on the machine slows every variant)"

for i in 0 1 2 3 4; do
    measure "${names[$i]}" "${commands[$i]}" >/dev/null
done
declare -A wall=() cpu=()
# The variants take turns in every position (round r starts with variant (r-1) mod 5), so that
# what a run leaves behind (the page cache, the CPU's clock) falls on each variant alike.
for round in $(seq 1 "$runs"); do
    line="round $round:"
    for k in 0 1 2 3 4; do
        i=$(( (k + round - 1) % 5 ))
        result=$(measure "${names[$i]}" "${commands[$i]}")
        read -r w c <<<"$result"
        wall[${names[$i]}]+=" $w"
        cpu[${names[$i]}]+=" $c"
        line+=$(printf ' %s %.2f s (cpu %.2f s)' "${names[$i]}" "$w" "$c")
    done
    echo "$line"
done
echo "load:    $(loadavg) at the end"

bare=$(echo "${wall[bare]}" | median)
imp=$(echo "${wall[import]}" | median)
call=$(echo "${wall[call]}" | median)
fall=$(echo "${wall[fallback]}" | median)
first=$(echo "${wall[first]}" | median)
bare_cpu=$(echo "${cpu[bare]}" | median)
imp_cpu=$(echo "${cpu[import]}" | median)
call_cpu=$(echo "${cpu[call]}" | median)
fall_cpu=$(echo "${cpu[fallback]}" | median)
awk -v bare="$bare" -v first="$first" -v imp="$imp" -v call="$call" -v fall="$fall" -v bc="$bare_cpu" -v ic="$imp_cpu" -v cc="$call_cpu" -v fc="$fall_cpu" 'BEGIN {
    printf "\nmedians (wall): bare pwsh %.2f s, import %.2f s, import + first call %.2f s, the same with the Add-Type fallback %.2f s\n", bare, imp, call, fall
    printf "medians (cpu):  bare pwsh %.2f s, import %.2f s, import + first call %.2f s, the same with the Add-Type fallback %.2f s\n", bc, ic, cc, fc
    printf "import over bare pwsh: %.2f s (goal < 0.30 s: %s); import/bare %.2fx; cpu over bare %.2f s\n", imp - bare, (imp - bare < 0.30 ? "met" : "NOT met"), imp / bare, ic - bc
    printf "the first import after bare sessions (their JIT profile) over bare pwsh: %.2f s\n", first - bare
    printf "import + first native call over bare pwsh: %.2f s; cpu over bare %.2f s\n", call - bare, cc - bc
    printf "import + first call with the Add-Type fallback over bare pwsh: %.2f s; cpu over bare %.2f s\n", fall - bare, fc - bc
    if (call - bare > 0) printf "the precompiled shim makes import + first call %.1fx cheaper (%.2f s less)\n", (fall - bare) / (call - bare), fall - call
}'
