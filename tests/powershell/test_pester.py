"""The Pester tests (tests/powershell/pester): run with pwsh and Pester 5 where they exist; here
(no PowerShell on Debian CI machines) the skip says so, and the test files are at least parsed and
their MSCommerce command lines checked against the module's surface."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

import emulator as emu
import psast
from conftest import HERE, REPO

PESTER_DIR = HERE / "pester"
PESTER_FILES = sorted(PESTER_DIR.glob("*.Tests.ps1"))


def test_pester_files_exist():
    assert PESTER_FILES, "no Pester tests"


@pytest.mark.parametrize("path", PESTER_FILES, ids=lambda p: p.name)
def test_pester_file_parses(path):
    assert not psast.syntax_problems(path.read_bytes())


@pytest.mark.parametrize("path", PESTER_FILES, ids=lambda p: p.name)
def test_pester_commands_use_existing_parameters(path, module_functions):
    """Every -Parameter given to an MSCommerce cmdlet in the Pester tests exists (by name, alias or
    unambiguous prefix): the tests cannot drift from the surface unnoticed."""
    surfaces = {name.lower(): info.surface for name, info in module_functions.items() if info.path.parent.name == "Public"}
    checked = 0
    for invocation in psast.invocations_in(path.read_bytes()):
        surface = surfaces.get(invocation.name.lower())
        if surface is None:
            continue
        for _, typed, _ in invocation.named:
            try:
                psast.resolve_parameter(surface, typed)
            except psast.BindingError as error:
                pytest.fail(f"{path.name}:{invocation.line}: {invocation.source}\n{error}")
        checked += 1
    assert checked >= 40


def test_pester_suite_covers_the_brief():
    content = "\n".join(p.read_text(encoding="utf-8") for p in PESTER_FILES)
    for needle in ("-WhatIf", "| Update-MSCommerceProductPolicy -Value Disabled", "-Enabled 'maybe'", "'FALSE'",
                   "-UseDeviceCode", "-Credential", "-ClientSecretCredential", "-Identity", "-AccessToken",
                   "Start-Process", "TargetObject", "CategoryInfo.Category", "FullyQualifiedErrorId",
                   "where {$_.ProductName -match 'Power Automate'}"):
        assert needle in content, needle


def pester_available(pwsh: str) -> bool:
    probe = subprocess.run(
        [pwsh, "-NoProfile", "-NonInteractive", "-Command",
         "if (Get-Module -ListAvailable -Name Pester | Where-Object { $_.Version.Major -ge 5 }) { exit 0 } else { exit 3 }"],
        capture_output=True, text=True, timeout=120,
    )
    return probe.returncode == 0


def test_run_pester():
    pwsh = shutil.which("pwsh") or shutil.which("powershell")
    if pwsh is None:
        pytest.skip("pwsh not installed: Pester tests not run")
    if not pester_available(pwsh):
        pytest.skip("Pester 5 not installed for pwsh (Install-Module Pester -MinimumVersion 5.0): Pester tests not run")
    problem = emu.library_problem() or emu.binary_problem()
    if problem:
        pytest.skip(f"Pester tests not run: {problem}")
    command = (
        "$c = New-PesterConfiguration; "
        f"$c.Run.Path = '{PESTER_DIR}'; "
        "$c.Run.Exit = $true; "
        "$c.Output.Verbosity = 'Detailed'; "
        "Invoke-Pester -Configuration $c"
    )
    env = dict(os.environ)
    env.setdefault("MSCOMMERCE_TEST_LIBRARY", str(emu.library_path()))
    env.setdefault("MSCOMMERCE_TEST_BIN", str(emu.binary_path()))
    result = subprocess.run([pwsh, "-NoProfile", "-NonInteractive", "-Command", command], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=1800)
    print(result.stdout[-20000:])
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
