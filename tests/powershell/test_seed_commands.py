"""Every PowerShell command the seed article (Microsoft's "Use AllowSelfServicePurchase for the
MSCommerce PowerShell module") shows a user typing binds to this module's surface: parameter names
(or unambiguous prefixes and aliases) exist, positional arguments fit, every mandatory parameter of
some parameter set is bound, ValidateSet holds.

The commands are tested from the project's own copy, tests/fixtures/seed-commands.md, so a clone
tests them too. Where the seed files themselves are there (shared/seeds beside the checkout, or
$MSCOMMERCE_SHARED_DIR: five translations and the English text), the copy is also checked against
each of them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import psast
from conftest import MODULE_DIR, REPO, shared_dir

FIXTURE = REPO / "tests" / "fixtures" / "seed-commands.md"
SHARED = shared_dir()
SEED_FILES = sorted((SHARED / "seeds").glob("*.txt")) if SHARED else []
ENGLISH = (SHARED / "seeds" / "english-text-of-the-seed.md") if SHARED else None
ALL_SEEDS = SEED_FILES + ([ENGLISH] if ENGLISH and ENGLISH.is_file() else [])
NO_SEEDS = "shared/seeds is not beside the checkout (set MSCOMMERCE_SHARED_DIR): the fixture's copy is tested, not compared with the seed files"

FENCED = re.compile(r"```(?:powershell|PowerShell|ps|ps1|pwsh)[ \t]*\r?\n(.*?)```", re.S)
INLINE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")


def seed_code(path: Path) -> list[tuple[str, str]]:
    """(where, code) for each fenced PowerShell block and each inline code span of a seed file."""
    content = path.read_text(encoding="utf-8")
    blocks = [(f"{path.name} block {n}", m.group(1)) for n, m in enumerate(FENCED.finditer(content), 1)]
    without_blocks = FENCED.sub("", content)
    inline = [(f"{path.name} inline", m.group(1)) for m in INLINE.finditer(without_blocks)]
    return blocks + inline


def module_surfaces(module_functions) -> dict:
    exported = {}
    for name, info in module_functions.items():
        if info.path.parent.name == "Public":
            exported[name.lower()] = info.surface
    return exported


def commands_naming_the_module(code: str, surfaces: dict) -> list[psast.Invocation]:
    return [i for i in psast.invocations_in(code) if i.name.lower() in surfaces]


def code_only(path: Path) -> list[str]:
    return [code.replace("\r\n", "\n") for _, code in seed_code(path)]


def test_fixture_holds_the_articles_ten_blocks():
    assert len(code_only(FIXTURE)) == 10
    assert [where for where, _ in seed_code(FIXTURE) if "inline" in where] == []


@pytest.mark.skipif(not SEED_FILES, reason=NO_SEEDS)
def test_all_five_translations_are_there():
    assert len(SEED_FILES) == 5
    assert ENGLISH is not None and ENGLISH.is_file()


@pytest.mark.skipif(not SEED_FILES, reason=NO_SEEDS)
def test_fixture_equals_every_seed_file():
    """The copy is what the articles show, block for block, in all six files."""
    fixture = code_only(FIXTURE)
    for path in ALL_SEEDS:
        assert code_only(path) == fixture, f"{path.name} differs from {FIXTURE.relative_to(REPO)}: update the fixture"


def test_seed_commands_bind(module_functions):
    path = FIXTURE
    surfaces = module_surfaces(module_functions)
    bound = []
    for where, code in seed_code(path):
        if "inline" in where and "mscommerce" not in code.lower():
            continue
        problems = psast.syntax_problems(code)
        assert not problems, f"{where} does not parse: {problems}\n{code}"
        for invocation in commands_naming_the_module(code, surfaces):
            try:
                chosen = psast.bind(surfaces[invocation.name.lower()], invocation)
            except psast.BindingError as error:
                pytest.fail(f"{where}, line {invocation.line}: {invocation.source}\n{error}")
            bound.append((invocation.name, chosen))
    names = [name for name, _ in bound]
    # The article shows: Connect-MSCommerce (twice), Get-MSCommercePolicy, Get-MSCommerceProductPolicies
    # (twice), Get-MSCommerceProductPolicy and Update-MSCommerceProductPolicy (three times).
    assert names.count("Connect-MSCommerce") == 2, names
    assert names.count("Get-MSCommercePolicy") == 1, names
    assert names.count("Get-MSCommerceProductPolicies") == 2, names
    assert names.count("Get-MSCommerceProductPolicy") == 1, names
    assert names.count("Update-MSCommerceProductPolicy") == 3, names
    assert ("Update-MSCommerceProductPolicy", "Toggle") in bound
    assert ("Connect-MSCommerce", "Interactive") in bound


def test_seed_module_commands_name_this_module():
    """Install-Module / Import-Module / Uninstall-Module -Name MSCommerce: the module's folder and
    manifest are named MSCommerce."""
    seen = 0
    for where, code in seed_code(FIXTURE):
        for invocation in psast.invocations_in(code):
            if invocation.name.lower() in ("install-module", "import-module", "uninstall-module"):
                match = re.search(r"-Name\s+(\S+)", invocation.source)
                assert match and match.group(1) == "MSCommerce", f"{where}: {invocation.source}"
                seen += 1
    assert seen >= 3
    assert (MODULE_DIR / "MSCommerce.psd1").is_file() and MODULE_DIR.name == "MSCommerce"


def test_example_script_binds_with_two_matching_products(module_functions):
    """The example script: `where {$_.ProductName -match 'Power Automate'}` finds two products in the
    seed list; -ProductId is string[] so both bind (the published module's string did not)."""
    surfaces = module_surfaces(module_functions)
    scripts = [code for _, code in seed_code(FIXTURE) if "$product" in code]
    assert len(scripts) == 1
    update = [i for i in psast.invocations_in(scripts[0]) if i.name == "Update-MSCommerceProductPolicy"]
    assert len(update) == 1
    assert surfaces["update-mscommerceproductpolicy"]["parameters"]["ProductId"]["type"] == "string[]"
    assert psast.bind(surfaces["update-mscommerceproductpolicy"], update[0]) == "Toggle"
    listing = [i for i in psast.invocations_in(scripts[0]) if i.name == "Get-MSCommerceProductPolicies"]
    assert len(listing) == 1 and not listing[0].receives_pipeline_input


def test_binder_rejects_what_powershell_rejects(module_functions):
    """The binding model is strict enough to catch real mistakes."""
    surfaces = module_surfaces(module_functions)
    bad = [
        "Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N",
        "Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N -Value Bogus",
        "Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId X -Enabled $true -Value Enabled",
        "Get-MSCommercePolicy -PolicyIdentifier AllowSelfServicePurchase",
        "Get-MSCommerceProductPolicy AllowSelfServicePurchase CFQ7TTC0KP0N token extra",
        "Get-MSCommerceProductPolicies",
        "Connect-MSCommerce -C x",
        "Connect-MSCommerce -TenantId x -CertificatePath ./a.pfx",
    ]
    for line in bad:
        invocation = psast.invocations_in(line)[0]
        with pytest.raises(psast.BindingError):
            psast.bind(surfaces[invocation.name.lower()], invocation)
    good = {
        "Get-MSCommerceProductPolicy AllowSelfServicePurchase CFQ7TTC0KP0N": "Product",
        "Get-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -OfferType Trial": "OfferType",
        "Connect-MSCommerce -AdminAccount $cred": "Credential",
        "Connect-MSCommerce 3d5cffa9-04da-4657-8cab-c7f074657cad http://localhost/m365/commerce aeb86249-8ea3-49e2-900b-54cc8e308f85": "Interactive",
        "Connect-MSCommerce -UseDeviceAuthentication -TenantId contoso.onmicrosoft.com": "DeviceCode",
        "Connect-MSCommerce -TenantId t -ClientSecretCredential $c -EnvironmentName AzureUSGovernment": "AppSecret",
        "Connect-MSCommerce -ManagedIdentity": "Identity",
        "Connect-MSCommerce -AccessToken $t -ServiceUrl http://127.0.0.1:1": "AccessToken",
        "Update-MSCommerceProductPolicy -PolicyId P -OfferType Trial -Enabled 'false'": "OfferTypeToggle",
        "Update-MSCommerceProductPolicy -PolicyId P -ProductId A,B -Value Disabled -WhatIf": "Enum",
    }
    for line, expected in good.items():
        invocation = psast.invocations_in(line)[0]
        assert psast.bind(surfaces[invocation.name.lower()], invocation) == expected, line
