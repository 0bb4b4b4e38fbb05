#!/usr/bin/env bash
# The release package as an admin gets it (issue 14): builds it with `bash build.sh package`, then
# checks dist/ and installs it as admins install, each time into an empty module path:
#   - dist/: the .nupkg, the zip and SHA256SUMS (sha256sum -c), the zip's MSCommerce/<version>/
#     layout holding the same files as the .nupkg, no src/ and nothing its FileList does not name;
#   - the libraries inside: win-x64 and win-x86 are the very DLLs (same sha256) that .ci/abi.sh
#     built and checked and that its Wine run and tests/windows/run-pester-wine.sh load (their
#     sha256 is taken before build.sh package runs: run this after them, as tests/run.sh does), each
#     exporting exactly the C ABI contract of .ci/abi.sh; the Linux ones export it too, and the
#     newest glibc symbol version each asks for is printed (at most GLIBC_2.28 when built by zig);
#   - Install-PSResource from dist/ registered as a folder repository (Register-PSResourceRepository
#     -Name local -Uri dist -Trusted) into an empty user scope; then in a fresh pwsh whose
#     $env:PSModulePath is only that scope and $PSHOME/Modules: Import-Module MSCommerce by name
#     loads the installed module and its linux-x64 library, and the seed article's commands
#     (tests/fixtures/seed-commands.md), typed as at a prompt, run against the emulator, with
#     Connect-MSCommerce's browser sign-in answered by an xdg-open stand-in that fetches the URL
#     with curl;
#   - Install-Module (PowerShellGet 2) from the same folder, and the zip unpacked into a module
#     folder (the README's way without a repository): each imports by name and lists the policies;
#   - the README's first screen for Windows, its PowerShell block read from README.md and typed
#     into Windows pwsh 7 under Wine (../shared/tools/winpwsh, the win-x64 DLL) in a folder
#     holding the zip and SHA256SUMS: the hash, Unblock-File, Expand-Archive into the first folder
#     of $env:PSModulePath, Import-Module by name, Connect-MSCommerce in the browser (Wine's
#     winebrowser starts the xdg-open stand-in), the Get and Update commands.
#
#   bash tests/package/run.sh [--no-build] [BUILD.SH PACKAGE OPTIONS...]
#
# --no-build checks the dist/ there is. Other options go to `build.sh package`; default
# $MSCOMMERCE_PACKAGE_OPTIONS if set (empty: the whole release), else --no-arm64 (the arm64
# library adds 3 to 5 minutes on 2 cores; said as a skipped check). With a linux-arm64 library in
# the package and qemu-user and gcc-aarch64-linux-gnu here, the C test program (tests/c/abi_test.c)
# runs against it under qemu-aarch64.
# Output: "package: ok - ..." per check, "package skipped: ..." and "package failed: ..." lines,
# and as the last line "package: N passed, N failed, N skipped" (tests/run.sh counts it).
# Environment: PWSH (else pwsh on PATH, else ../shared/tools/pwsh), WINPWSH (else
# ../shared/tools/winpwsh), MSCOMMERCE_TEST_BIN (the CLI
# that runs the emulator; else target/debug/mscommerce, built when missing), CARGO_TARGET_DIR.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
ROOT=$PWD
started=$(date +%s)

BUILD=yes
OPTIONS=()
for arg in "$@"; do
    case $arg in
        --no-build) BUILD="" ;;
        -h | --help)
            sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        *) OPTIONS+=("$arg") ;;
    esac
done
if [ ${#OPTIONS[@]} -eq 0 ]; then
    read -r -a OPTIONS <<<"${MSCOMMERCE_PACKAGE_OPTIONS---no-arm64}"
fi

passed=0 failed=0 skipped=0
ok() { passed=$((passed + 1)); echo "package: ok - $*"; }
bad() { failed=$((failed + 1)); echo "package failed: $*"; }
skip() { skipped=$((skipped + 1)); echo "package skipped: $*"; }
finish() {
    echo "package: checks took $(($(date +%s) - started)) s"
    echo "package: $passed passed, $failed failed, $skipped skipped"
    [ "$failed" -eq 0 ]
    exit
}
have() { command -v "$1" >/dev/null 2>&1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mscommerce-package.XXXXXX")
EMU_PID=""
WINESERVER=""
cleanup() {
    [ -n "$EMU_PID" ] && kill "$EMU_PID" 2>/dev/null
    # This run's own Wine prefix: its wineserver and what still runs in it.
    [ -n "$WINESERVER" ] && [ -d "$WORK/wineprefix" ] && WINEPREFIX=$WORK/wineprefix "$WINESERVER" -k 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

TARGET_DIR=$(cargo metadata --format-version 1 --no-deps 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])' 2>/dev/null) || TARGET_DIR=""
[ -n "$TARGET_DIR" ] || TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
DIST=$ROOT/dist
VERSION=$(sed -n "s/^ *ModuleVersion *= *'\([^']*\)'.*/\1/p" ps-module/MSCommerce/MSCommerce.psd1 | head -n 1)
CONTRACT=$(sed -n 's/^CONTRACT="\(.*\)"$/\1/p' .ci/abi.sh)
NUPKG=$DIST/MSCommerce.$VERSION.nupkg
ZIP=$DIST/MSCommerce-$VERSION.zip

if [ -z "${PWSH:-}" ]; then
    if have pwsh; then
        PWSH=$(command -v pwsh)
    elif [ -f "$ROOT/../shared/tools/pwsh/install.sh" ]; then
        PWSH=$(bash "$ROOT/../shared/tools/pwsh/install.sh" | tail -n 1)
    fi
fi
if [ -z "${PWSH:-}" ] || ! [ -x "$PWSH" ]; then
    skip "the whole package check: no pwsh (PowerShell 7.4+ with Microsoft.PowerShell.PSResourceGet; set PWSH)"
    finish
fi
export PWSH

# ------------------------------------------------------------------- build
# The Windows DLLs as .ci/abi.sh and the Wine runs left them (tests/run.sh runs those first): the
# package must hold these very files, not ones built again since (sources changed meanwhile).
declare -A TESTED_SUM=()
for target in x86_64-pc-windows-gnu i686-pc-windows-gnu; do
    if [ -f "$TARGET_DIR/$target/release/mscommerce.dll" ]; then
        TESTED_SUM[$target]=$(sha256sum "$TARGET_DIR/$target/release/mscommerce.dll" | cut -d' ' -f1)
    fi
done
if [ -n "$BUILD" ]; then
    step=$(date +%s)
    echo "package: bash build.sh package ${OPTIONS[*]}"
    if bash build.sh package "${OPTIONS[@]}" >"$WORK/build.log" 2>&1; then
        grep -E '^(build\.sh|package): ' "$WORK/build.log"
        ok "bash build.sh package ${OPTIONS[*]} wrote dist/ in $(($(date +%s) - step)) s"
    else
        tail -n 40 "$WORK/build.log"
        bad "bash build.sh package ${OPTIONS[*]} failed (its last lines above)"
        finish
    fi
    while IFS= read -r line; do skip "${line#*SKIPPED - }"; done < <(grep -E '^build\.sh: .*SKIPPED - ' "$WORK/build.log")
fi

# ------------------------------------------------------------------- dist/
if [ ! -f "$NUPKG" ] || [ ! -f "$ZIP" ] || [ ! -f "$DIST/SHA256SUMS" ]; then
    bad "dist/ lacks MSCommerce.$VERSION.nupkg, MSCommerce-$VERSION.zip or SHA256SUMS: $(ls "$DIST" 2>&1 | tr '\n' ' ')"
    finish
fi
if (cd "$DIST" && sha256sum --check --strict SHA256SUMS >"$WORK/sums.out" 2>&1); then
    ok "dist/SHA256SUMS: $(tr '\n' ';' <"$WORK/sums.out" | sed 's/;$//; s/;/, /g')"
else
    bad "sha256sum --check dist/SHA256SUMS: $(cat "$WORK/sums.out")"
fi

# The package's files, read from the .nupkg and the zip (python3's zipfile).
python3 - "$NUPKG" "$ZIP" "$VERSION" "$WORK/files" >"$WORK/layout.out" 2>&1 <<'PY'
import hashlib, os, re, sys, zipfile
nupkg, zip_path, version, out = sys.argv[1:]
nuget_parts = re.compile(r"^(_rels/|package/|\[Content_Types\]\.xml$|MSCommerce\.nuspec$)")
problems = []
with zipfile.ZipFile(nupkg) as z:
    package = {n: z.read(n) for n in z.namelist() if not nuget_parts.match(n) and not n.endswith("/")}
prefix = f"MSCommerce/{version}/"
with zipfile.ZipFile(zip_path) as z:
    names = [n for n in z.namelist() if not n.endswith("/")]
    outside = [n for n in names if not n.startswith(prefix)]
    if outside:
        problems.append(f"zip entries outside {prefix}: {outside[:5]}")
    if any("\\" in n for n in names):
        problems.append("zip entries with backslashes")
    unzipped = {n[len(prefix):]: z.read(n) for n in names if n.startswith(prefix)}
if set(unzipped) != set(package):
    problems.append(f"zip and nupkg differ: only in zip {sorted(set(unzipped) - set(package))}, only in nupkg {sorted(set(package) - set(unzipped))}")
else:
    different = [n for n in package if package[n] != unzipped[n]]
    if different:
        problems.append(f"zip and nupkg hold different bytes for {different}")
os.makedirs(out, exist_ok=True)
for name, data in package.items():
    path = os.path.join(out, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
print(f"{len(package)} files")
if problems:
    print("; ".join(problems))
    sys.exit(1)
PY
if [ $? -eq 0 ]; then
    ok "the zip holds MSCommerce/$VERSION/ with the same $(head -n 1 "$WORK/layout.out") (same bytes) as the .nupkg"
else
    bad "package layout: $(tr '\n' ' ' <"$WORK/layout.out")"
fi
FILES=$WORK/files
if [ -e "$FILES/src" ]; then
    bad "the package holds src/ (the shim's source): $(cd "$FILES" && find src -type f | tr '\n' ' ')"
elif [ -f "$FILES/bin/MSCommerce.Native.dll" ]; then
    ok "the package holds the precompiled shim bin/MSCommerce.Native.dll ($(stat -c %s "$FILES/bin/MSCommerce.Native.dll") bytes) and no src/"
else
    bad "the package has no bin/MSCommerce.Native.dll"
fi

# ---------------------------------------------------------------- libraries
# The export table of a PE DLL, sorted, one line.
pe_exports() {
    "$1" -p "$2" | sed -n '/\[Ordinal\/Name Pointer\] Table/,/^$/p' | awk '/\]/ {print $NF}' | grep -v Table | sort | tr '\n' ' ' | sed 's/ $//'
}
# The functions an ELF library defines and exports (readelf reads any architecture).
elf_exports() {
    readelf -W --dyn-syms "$1" | awk '$4 == "FUNC" && $5 == "GLOBAL" && $7 != "UND" {sub(/@.*/, "", $8); print $8}' | sort -u | tr '\n' ' ' | sed 's/ $//'
}
for pair in "win-x64 x86_64-pc-windows-gnu x86_64-w64-mingw32-objdump" "win-x86 i686-pc-windows-gnu i686-w64-mingw32-objdump"; do
    read -r rid target objdump <<<"$pair"
    case $rid in
        win-x64) whose="the DLL that .ci/abi.sh built and ran the C test with under Wine, and that tests/windows/run-pester-wine.sh loads" ;;
        win-x86) whose="the DLL that .ci/abi.sh built and checked (build and exports: no 32-bit Wine here)" ;;
    esac
    packaged=$FILES/runtimes/$rid/native/mscommerce.dll
    built=$TARGET_DIR/$target/release/mscommerce.dll
    if [ ! -f "$packaged" ]; then
        bad "$rid: the package has no runtimes/$rid/native/mscommerce.dll"
        continue
    fi
    sum=$(sha256sum "$packaged" | cut -d' ' -f1)
    if [ -z "${TESTED_SUM[$target]:-}" ]; then
        bad "$rid: $built (what .ci/abi.sh builds and Wine loads) was not there before the package was built: run .ci/abi.sh first (tests/run.sh does)"
    elif [ "$sum" != "${TESTED_SUM[$target]}" ]; then
        bad "$rid: the package's mscommerce.dll (sha256 $sum) is not the one .ci/abi.sh left in $built (sha256 ${TESTED_SUM[$target]}): build.sh package built it again (the sources changed since)"
    elif [ "$sum" = "$(sha256sum "$built" | cut -d' ' -f1)" ]; then
        ok "$rid: mscommerce.dll ($(stat -c %s "$packaged") bytes, sha256 $sum) is $whose ($built)"
    else
        bad "$rid: the package's mscommerce.dll (sha256 $sum) is not $built (sha256 $(sha256sum "$built" | cut -d' ' -f1)): built again since"
    fi
    if ! have "$objdump"; then
        skip "$rid: export table: $objdump is missing (apt-get install binutils-mingw-w64)"
    elif [ "$(pe_exports "$objdump" "$packaged")" = "$CONTRACT" ]; then
        ok "$rid: exports exactly the $(wc -w <<<"$CONTRACT") functions of the contract (.ci/abi.sh)"
    else
        bad "$rid: exports [$(pe_exports "$objdump" "$packaged")], the contract [$CONTRACT]"
    fi
    if have "$objdump"; then
        # An admin's Windows has no mingw-w64 runtime (libgcc_s_*.dll, libwinpthread-1.dll, ...).
        imports=$("$objdump" -p "$packaged" | sed -n 's/^[[:space:]]*DLL Name: //p' | sort -fu | tr '\n' ' ' | sed 's/ $//')
        if grep -qiE '(^| )(lib[^ ]*|[^ ]*mingw[^ ]*)\.dll' <<<"$imports"; then
            bad "$rid: mscommerce.dll needs a DLL Windows does not have: [$imports]"
        else
            ok "$rid: mscommerce.dll needs only Windows' own DLLs: $imports"
        fi
    fi
done
for rid in linux-x64 linux-arm64; do
    lib=$FILES/runtimes/$rid/native/libmscommerce.so
    if [ ! -f "$lib" ]; then
        if [ "$rid" = linux-x64 ]; then bad "the package has no runtimes/linux-x64/native/libmscommerce.so"; fi
        continue # linux-arm64 left out: build.sh said why (counted above)
    fi
    floor=$(readelf -W -V "$lib" | grep -oE 'GLIBC_[0-9]+(\.[0-9]+)+' | sort -uV | tail -n 1)
    exports=$(elf_exports "$lib")
    if [ "$exports" != "$CONTRACT" ]; then
        bad "$rid: libmscommerce.so exports [$exports], the contract [$CONTRACT]"
    elif grep -q -- '--no-zig' <<<"${OPTIONS[*]}" || [ -z "$BUILD" ]; then
        ok "$rid: libmscommerce.so ($(stat -c %s "$lib") bytes, sha256 $(sha256sum "$lib" | cut -d' ' -f1)) exports the contract; needs $floor at most"
    elif [ "$(printf '%s\n%s\n' "$floor" GLIBC_2.28 | sort -V | tail -n 1)" = GLIBC_2.28 ]; then
        ok "$rid: libmscommerce.so ($(stat -c %s "$lib") bytes, sha256 $(sha256sum "$lib" | cut -d' ' -f1)) exports the contract; needs $floor at most (zig, glibc 2.28 floor)"
    else
        bad "$rid: libmscommerce.so needs $floor, above the 2.28 floor it is built for"
    fi
done

# ------------------------------------------------------------- the emulator
EMULATOR=${MSCOMMERCE_TEST_BIN:-$TARGET_DIR/debug/mscommerce}
if [ ! -x "$EMULATOR" ]; then
    cargo build --bin mscommerce --quiet >"$WORK/cargo.log" 2>&1 || { cat "$WORK/cargo.log"; }
fi
if [ -x "$EMULATOR" ]; then
    "$EMULATOR" emulator --port 0 >"$WORK/emulator.out" 2>"$WORK/emulator.err" &
    EMU_PID=$!
    for _ in $(seq 1 100); do
        URL=$(head -n 1 "$WORK/emulator.out" 2>/dev/null | grep -oE 'http://127\.0\.0\.1:[0-9]+' || true)
        [ -n "$URL" ] && break
        sleep 0.1
    done
fi
if [ -z "${URL:-}" ]; then
    bad "the emulator ($EMULATOR) did not start: $(cat "$WORK/emulator.err" 2>/dev/null)"
    finish
fi
emulator() { # METHOD PATH [JSON]
    curl --silent --show-error --fail -X "$1" "$URL$2" -H 'content-type: application/json' ${3:+--data "$3"}
}
# The arm64 library at work: the C test program, cross-compiled, under qemu-aarch64 against the
# emulator (Debian's arm64 glibc as its sysroot).
ARM64_LIB=$FILES/runtimes/linux-arm64/native/libmscommerce.so
if [ -f "$ARM64_LIB" ]; then
    if have qemu-aarch64 && have aarch64-linux-gnu-gcc && [ -d /usr/aarch64-linux-gnu/lib ]; then
        mkdir -p "$WORK/arm64"
        cp "$ARM64_LIB" "$WORK/arm64/"
        if aarch64-linux-gnu-gcc -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -Iinclude tests/c/abi_test.c \
            -L"$WORK/arm64" -lmscommerce -lpthread -o "$WORK/arm64/abi_test" >"$WORK/arm64.out" 2>&1 &&
            QEMU_LD_PREFIX=/usr/aarch64-linux-gnu LD_LIBRARY_PATH=$WORK/arm64 timeout 600 \
                qemu-aarch64 "$WORK/arm64/abi_test" "$URL" "$(cargo metadata --no-deps --format-version 1 |
                    python3 -c 'import json,sys; print([p for p in json.load(sys.stdin)["packages"] if p["name"]=="mscommerce"][0]["version"])')" \
                >>"$WORK/arm64.out" 2>&1 && grep -qE '^[0-9]+ passed, 0 failed' "$WORK/arm64.out"; then
            ok "linux-arm64: the C test program against the packaged library under qemu-aarch64: $(tail -n 1 "$WORK/arm64.out")"
        else
            grep -v '^ok - ' "$WORK/arm64.out" | tail -n 20
            bad "linux-arm64: the C test program under qemu-aarch64 (output above)"
        fi
    else
        skip "linux-arm64: the C test program under qemu-aarch64: qemu-user or gcc-aarch64-linux-gnu is missing (apt-get install qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross)"
    fi
fi

# The browser: .NET's shell execute on Linux, and Wine's winebrowser, start xdg-open from PATH;
# this one fetches the URL as a browser signed in to the emulator (POST /_emulator/browser).
mkdir -p "$WORK/browser"
printf '#!/bin/sh\nexec curl --silent --show-error --location --max-redirs 5 --max-time 30 --output /dev/null "$1"\n' >"$WORK/browser/xdg-open"
chmod +x "$WORK/browser/xdg-open"

# The module sees no MSCOMMERCE_* variable of this shell (a library path, a service URL, ...).
for variable in $(compgen -e | grep '^MSCOMMERCE_'); do unset "$variable"; done
# pwsh_in HOME MODULE-PATH ARGS...: a fresh pwsh with nothing of this machine's: HOME (so the user
# scope and the PSResourceGet and PowerShellGet settings) in $WORK, $env:PSModulePath as given (or
# pwsh's default for that HOME when empty); killed after 300 s.
pwsh_in() {
    local home=$1 path=$2
    shift 2
    mkdir -p "$home"
    local environment=(env -u XDG_DATA_HOME -u XDG_CONFIG_HOME -u XDG_CACHE_HOME -u PSModulePath HOME="$home" NO_COLOR=1 TERM=dumb)
    [ -n "$path" ] && environment+=(PSModulePath="$path")
    timeout 300 "${environment[@]}" "$PWSH" -NoProfile -NonInteractive "$@"
}
PSHOME_MODULES=$("$PWSH" -NoProfile -NonInteractive -Command 'Join-Path $PSHOME Modules' | tr -d '\r')
SCOPE=.local/share/powershell/Modules # the CurrentUser scope of PowerShell 7 on Linux, under HOME

# --------------------------------------------------- Install-PSResource
HOME1=$WORK/psresourceget
pwsh_in "$HOME1" "" -Command "
    \$ErrorActionPreference = 'Stop'
    Register-PSResourceRepository -Name local -Uri '$DIST' -Trusted
    Install-PSResource -Name MSCommerce -Repository local -Scope CurrentUser
    \$installed = Get-InstalledPSResource -Name MSCommerce -Scope CurrentUser
    'installed ' + \$installed.Version + ' in ' + \$installed.InstalledLocation
" >"$WORK/install.out" 2>&1
rc=$?
INSTALLED=$HOME1/$SCOPE/MSCommerce/$VERSION
if [ $rc -eq 0 ] && [ -f "$INSTALLED/MSCommerce.psd1" ]; then
    ok "Install-PSResource -Name MSCommerce -Repository local (dist/ registered -Trusted) into an empty user scope: $(grep '^installed' "$WORK/install.out")"
    # PSGetModuleInfo.xml: the installer's record of the installation.
    if diff <(cd "$INSTALLED" && find . -type f ! -name PSGetModuleInfo.xml | sort) <(cd "$FILES" && find . -type f | sort) >"$WORK/diff.out" &&
        cmp -s "$INSTALLED/runtimes/linux-x64/native/libmscommerce.so" "$FILES/runtimes/linux-x64/native/libmscommerce.so"; then
        ok "the installed folder holds the package's $(find "$FILES" -type f | wc -l) files (and the installer's PSGetModuleInfo.xml)"
    else
        bad "the installed folder and the package differ: $(tr '\n' ' ' <"$WORK/diff.out")"
    fi
else
    cat "$WORK/install.out"
    bad "Install-PSResource from dist/ failed (exit $rc; output above)"
fi

# ------------------------------------- Import-Module by name, the seed article
MODULE_PATH="$HOME1/$SCOPE:$PSHOME_MODULES"
if [ -f "$INSTALLED/MSCommerce.psd1" ]; then
    # Test-ModuleManifest and the import, by name, with only that scope and $PSHOME/Modules.
    pwsh_in "$HOME1" "$MODULE_PATH" -Command "
        \$ErrorActionPreference = 'Stop'
        \$manifest = Test-ModuleManifest -Path '$INSTALLED/MSCommerce.psd1'
        'manifest ' + \$manifest.Version + ', FileList ' + @(\$manifest.FileList).Count + ' files'
        Import-Module -Name MSCommerce
        'library ' + (& (Get-Module -Name MSCommerce) { \$script:MSCommerceLibraryPath })
        \$module = Get-Module -Name MSCommerce
        \$wanted = @((Import-PowerShellDataFile -LiteralPath '$INSTALLED/MSCommerce.psd1').FunctionsToExport)
        \$exported = @(\$module.ExportedFunctions.Keys)
        'module ' + \$module.Version + ' from ' + \$module.ModuleBase + ', ' + \$exported.Count + ' functions, as in FunctionsToExport: ' + (@(Compare-Object \$wanted \$exported).Count -eq 0)
        # pwsh adds its all-users folder to any PSModulePath: it must hold no MSCommerce.
        \$others = @(\$env:PSModulePath -split ':' | Where-Object { \$_ -and \$_ -ne '$HOME1/$SCOPE' -and \$_ -ne '$PSHOME_MODULES' })
        'others ' + ((\$others | ForEach-Object { \$_ + ' (MSCommerce there: ' + (Test-Path (Join-Path \$_ 'MSCommerce')) + ')' }) -join ', ')
    " >"$WORK/import.out" 2>&1
    rc=$?
    if [ $rc -eq 0 ] && grep -qE "^module $VERSION from $INSTALLED, [0-9]+ functions, as in FunctionsToExport: True" "$WORK/import.out" &&
        grep -qx "library $INSTALLED/runtimes/linux-x64/native/libmscommerce.so" "$WORK/import.out" &&
        ! grep -q 'MSCommerce there: True' "$WORK/import.out"; then
        ok "Test-ModuleManifest of the installed module is clean ($(grep '^manifest' "$WORK/import.out")); Import-Module MSCommerce by name with PSModulePath=<that scope>:\$PSHOME/Modules (pwsh adds: $(sed -n 's/^others //p' "$WORK/import.out")) loads $VERSION from the scope, $(grep -oE '[0-9]+ functions' "$WORK/import.out") (FunctionsToExport), and its runtimes/linux-x64/native/libmscommerce.so"
    else
        cat "$WORK/import.out"
        bad "Import-Module MSCommerce of the installed package (exit $rc; output above)"
    fi

    # The seed article's commands, typed as at a prompt, but Install-/Uninstall-Module.
    python3 - tests/fixtures/seed-commands.md >"$WORK/seed.ps1" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
blocks = re.findall(r"```powershell\r?\n(.*?)\r?\n```", text, re.S)
print("\n".join(b for b in blocks if not re.match(r"^(Install|Uninstall)-Module", b)))
PY
    if ! have curl; then
        skip "the seed article's commands: no curl for the browser stand-in (apt-get install curl)"
    else
        emulator POST /_emulator/reset '{}' >/dev/null || echo "package: the emulator's reset failed"
        emulator POST /_emulator/browser '{"user":"admin"}' >/dev/null || echo "package: the emulator's browser sign-in failed"
        PATH="$WORK/browser:$PATH" MSCOMMERCE_SERVICE_URL="$URL" MSCOMMERCE_AUTHORITY_HOST="$URL" \
            pwsh_in "$HOME1" "$MODULE_PATH" -Command - <"$WORK/seed.ps1" >"$WORK/seed.out" 2>&1
        rc=$?
        stats=$(emulator GET /_emulator/stats)
        updates=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("updates"))' "$stats" 2>/dev/null)
        connected=$(grep -c '^Connection established successfully' "$WORK/seed.out")
        if [ $rc -eq 0 ] && [ "$connected" = 2 ] && ! grep -qE 'WARNING|Exception|[Ee]rror' "$WORK/seed.out" &&
            grep -qE 'PolicyValue +ProductId +PolicyId +ProductName' "$WORK/seed.out" &&
            grep -q 'Power Automate per user' "$WORK/seed.out" && [ "$updates" = 3 ]; then
            ok "the seed article's $(grep -c . "$WORK/seed.ps1") command lines, typed into a fresh pwsh with only the installed package: Import-Module -Name MSCommerce, Connect-MSCommerce (browser sign-in, twice), Get-MSCommercePolicy, Get-MSCommerceProductPolicies, Get-MSCommerceProductPolicy, Update-MSCommerceProductPolicy (3 updates in the emulator: the several-id update is one bulk change, which does not rewrite a product already at its value)"
        else
            cat "$WORK/seed.out"
            bad "the seed article's commands with the installed package: exit $rc, 'Connection established successfully' $connected times (2 expected), $updates updates (3 expected), emulator stats $stats; output above"
        fi
    fi
else
    bad "Import-Module and the seed article's commands: not run, the package did not install"
fi

# ------------------------------------------------ Install-Module (PowerShellGet 2)
HOME2=$WORK/powershellget
pwsh_in "$HOME2" "" -Command "
    \$ErrorActionPreference = 'Stop'
    Import-Module PowerShellGet -MaximumVersion 2.99
    Register-PSRepository -Name local -SourceLocation '$DIST' -InstallationPolicy Trusted
    Install-Module -Name MSCommerce -Repository local -Scope CurrentUser
    (Get-InstalledModule -Name MSCommerce).Version.ToString()
" >"$WORK/install-module.out" 2>&1
rc=$?
if [ $rc -eq 0 ] && [ -f "$HOME2/$SCOPE/MSCommerce/$VERSION/MSCommerce.psd1" ]; then
    pwsh_in "$HOME2" "$HOME2/$SCOPE:$PSHOME_MODULES" -Command "
        \$ErrorActionPreference = 'Stop'
        Import-Module -Name MSCommerce
        \$password = ConvertTo-SecureString -String 'Emulator-Admin-1' -AsPlainText -Force
        Connect-MSCommerce -ServiceUrl '$URL' -AuthorityHost '$URL' -Credential ([pscredential]::new('admin@contoso.onmicrosoft.com', \$password)) 6> \$null
        'policies ' + @(Get-MSCommercePolicies).Count + ' from ' + (Get-Module MSCommerce).ModuleBase
    " >"$WORK/install-module-use.out" 2>&1
    if grep -qE "^policies [1-9][0-9]* from $HOME2/$SCOPE/MSCommerce/$VERSION\$" "$WORK/install-module-use.out"; then
        ok "Install-Module -Name MSCommerce -Repository local (PowerShellGet $("$PWSH" -NoProfile -Command '(Get-Module -ListAvailable PowerShellGet | Sort-Object Version -Descending | Select-Object -First 1).Version.ToString()' | tr -d '\r'), Register-PSRepository of dist/) into an empty scope; imported by name, signed in, $(grep -oE '^policies [0-9]+' "$WORK/install-module-use.out")"
    else
        cat "$WORK/install-module-use.out"
        bad "the module Install-Module installed: output above"
    fi
elif grep -qiE 'NuGet provider|bootstrap|PackageManagement\\ProviderAssemblies' "$WORK/install-module.out"; then
    skip "Install-Module: PowerShellGet 2 wants its NuGet provider, which cannot be fetched here: $(tr '\n' ' ' <"$WORK/install-module.out" | head -c 300)"
else
    cat "$WORK/install-module.out"
    bad "Install-Module from dist/ failed (exit $rc; output above)"
fi

# ------------------------------------------- the zip, unpacked into a module folder
HOME3=$WORK/zip
mkdir -p "$HOME3/$SCOPE"
pwsh_in "$HOME3" "$HOME3/$SCOPE:$PSHOME_MODULES" -Command "
    \$ErrorActionPreference = 'Stop'
    \$modules = (\$env:PSModulePath -split [IO.Path]::PathSeparator)[0]
    Expand-Archive -Path '$ZIP' -DestinationPath \$modules
    Import-Module -Name MSCommerce
    \$password = ConvertTo-SecureString -String 'Emulator-Admin-1' -AsPlainText -Force
    Connect-MSCommerce -ServiceUrl '$URL' -AuthorityHost '$URL' -Credential ([pscredential]::new('admin@contoso.onmicrosoft.com', \$password)) 6> \$null
    'policies ' + @(Get-MSCommercePolicies).Count + ' from ' + (Get-Module MSCommerce).ModuleBase
" >"$WORK/zip.out" 2>&1
if grep -qE "^policies [1-9][0-9]* from $HOME3/$SCOPE/MSCommerce/$VERSION\$" "$WORK/zip.out"; then
    ok "MSCommerce-$VERSION.zip unpacked with Expand-Archive into the first folder of \$env:PSModulePath (an empty one): Import-Module -Name MSCommerce, signed in, $(grep -oE '^policies [0-9]+' "$WORK/zip.out")"
else
    cat "$WORK/zip.out"
    bad "the zip unpacked into a module folder: output above"
fi

# ------------------------- the README's Windows first screen, under Windows pwsh in Wine
readme_block=$WORK/readme-windows.ps1
python3 - README.md >"$readme_block" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
start = text.index("**On Windows**")
print(re.search(r"```powershell\r?\n(.*?)\r?\n```", text[start:], re.S).group(1))
PY
WINPWSH=${WINPWSH:-}
if [ -z "$WINPWSH" ] && [ -f "$ROOT/../shared/tools/winpwsh/install.sh" ]; then
    WINPWSH=$(bash "$ROOT/../shared/tools/winpwsh/install.sh" 2>/dev/null | tail -n 1)
fi
for w in /usr/lib/wine/wineserver "$(command -v wineserver 2>/dev/null)"; do
    if [ -n "$w" ] && [ -x "$w" ]; then WINESERVER=$w; break; fi
done
if ! grep -q "MSCommerce-$VERSION.zip" "$readme_block"; then
    bad "the README's first screen for Windows does not install MSCommerce-$VERSION.zip: $(head -c 300 "$readme_block")"
elif [ -z "$WINPWSH" ] || ! [ -x "$WINPWSH" ]; then
    skip "the README's Windows first screen under Windows pwsh in Wine: no winpwsh (set WINPWSH, or put shared/tools/winpwsh beside the checkout)"
elif [ -z "$WINESERVER" ] || ! have x86_64-w64-mingw32-gcc || ! have curl; then
    skip "the README's Windows first screen under Windows pwsh in Wine: Wine, mingw-w64 or curl is missing (apt-get install wine64 wine gcc-mingw-w64-x86-64 curl; .ci/abi.sh installs them)"
else
    step=$(date +%s)
    mkdir -p "$WORK/download"
    cp "$ZIP" "$DIST/SHA256SUMS" "$WORK/download/"
    export WINPWSH_PREFIX=$WORK/wineprefix
    # Rust's std imports ProcessPrng, which Wine 8 lacks: the test-only stand-in of .ci/abi.sh.
    if x86_64-w64-mingw32-gcc -O2 -shared -Wall -Wextra -Werror tests/c/bcryptprimitives.c -ladvapi32 \
        -o "$WORK/bcryptprimitives.dll" >"$WORK/wine-setup.log" 2>&1 &&
        "$WINPWSH" --prefix >>"$WORK/wine-setup.log" 2>&1 && [ -d "$WINPWSH_PREFIX/drive_c/windows/system32" ]; then
        cp "$WORK/bcryptprimitives.dll" "$WINPWSH_PREFIX/drive_c/windows/system32/"
        emulator POST /_emulator/reset '{}' >/dev/null || echo "package: the emulator's reset failed"
        emulator POST /_emulator/browser '{"user":"admin"}' >/dev/null || echo "package: the emulator's browser sign-in failed"
        (cd "$WORK/download" && PATH="$WORK/browser:$PATH" MSCOMMERCE_SERVICE_URL="$URL" MSCOMMERCE_AUTHORITY_HOST="$URL" \
            WINEDLLOVERRIDES=bcryptprimitives=n,b NO_COLOR=1 WINPWSH_TIMEOUT=300 \
            "$WINPWSH" -NoProfile -NonInteractive -Command - <"$readme_block") 2>&1 | tr -d '\r' >"$WORK/readme.out"
        rc=${PIPESTATUS[0]}
        stats=$(emulator GET /_emulator/stats)
        updates=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("updates"))' "$stats" 2>/dev/null)
        zip_sum=$(sha256sum "$ZIP" | cut -d' ' -f1)
        if [ "$rc" -eq 0 ] && grep -qix "$zip_sum" "$WORK/readme.out" && grep -q '^Connection established successfully' "$WORK/readme.out" &&
            grep -qE '^Disabled +CFQ7TTC0KP0N +AllowSelfServicePurchase +Power Automate per user' "$WORK/readme.out" &&
            ! grep -qE 'WARNING|Exception|[Ee]rror' "$WORK/readme.out" && [ "$updates" = 1 ]; then
            ok "the README's first screen for Windows ($(grep -c . "$readme_block") lines, read from README.md) typed into Windows pwsh 7 under Wine beside the zip: the hash is SHA256SUMS's, Unblock-File, Expand-Archive into the first module folder, Import-Module -Name MSCommerce (win-x64 DLL), Connect-MSCommerce in the browser, the Get and Update commands (1 update) ($(($(date +%s) - step)) s)"
        else
            cat "$WORK/readme.out"
            bad "the README's first screen for Windows under Wine: exit $rc, $updates updates (1 expected), emulator stats $stats; output above"
        fi
    else
        tail -n 20 "$WORK/wine-setup.log"
        bad "the README's Windows first screen: the Wine prefix or the bcryptprimitives.dll stand-in could not be made (above)"
    fi
fi

finish
