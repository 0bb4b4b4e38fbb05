"""The Pester tests (tests/powershell/pester), checked without PowerShell: every file parses and its
MSCommerce command lines bind to the module's surface. The suite itself runs under real pwsh as its
own layer of tests/run.sh (tests/powershell/Invoke-PesterSuite.ps1), which counts its results once,
beside these."""

from __future__ import annotations

import pytest

import psast
from conftest import HERE

PESTER_DIR = HERE / "pester"
PESTER_FILES = sorted(PESTER_DIR.glob("*.Tests.ps1"))
# The test files and the scripts they dot-source (TestSupport.ps1).
PESTER_SCRIPTS = sorted(PESTER_DIR.glob("*.ps1"))


def test_pester_files_exist():
    assert PESTER_FILES, "no Pester tests"


@pytest.mark.parametrize("path", PESTER_SCRIPTS, ids=lambda p: p.name)
def test_pester_file_parses(path):
    assert not psast.syntax_problems(path.read_bytes())


def module_invocations(path, surfaces):
    return [i for i in psast.invocations_in(path.read_bytes()) if i.name.lower() in surfaces]


@pytest.fixture(scope="module")
def surfaces(module_functions):
    return {name.lower(): info.surface for name, info in module_functions.items() if info.path.parent.name == "Public"}


@pytest.mark.parametrize("path", PESTER_SCRIPTS, ids=lambda p: p.name)
def test_pester_commands_use_existing_parameters(path, surfaces):
    """Every -Parameter given to an MSCommerce cmdlet in the Pester tests exists (by name, alias or
    unambiguous prefix): the tests cannot drift from the surface unnoticed."""
    for invocation in module_invocations(path, surfaces):
        for _, typed, _ in invocation.named:
            try:
                psast.resolve_parameter(surfaces[invocation.name.lower()], typed)
            except psast.BindingError as error:
                pytest.fail(f"{path.name}:{invocation.line}: {invocation.source}\n{error}")


def test_pester_suite_calls_the_cmdlets_often(surfaces):
    """The check above has something to check: the suite calls the module's cmdlets many times."""
    assert sum(len(module_invocations(path, surfaces)) for path in PESTER_SCRIPTS) >= 40


def test_pester_suite_covers_the_brief():
    content = "\n".join(p.read_text(encoding="utf-8") for p in PESTER_SCRIPTS)
    for needle in ("-WhatIf", "| Update-MSCommerceProductPolicy -Value Disabled", "-Enabled 'maybe'", "'FALSE'",
                   "-UseDeviceCode", "-Credential", "-ClientSecretCredential", "-Identity", "-AccessToken",
                   "Start-Process", "TargetObject", "CategoryInfo.Category", "FullyQualifiedErrorId",
                   "where {$_.ProductName -match 'Power Automate'}"):
        assert needle in content, needle
