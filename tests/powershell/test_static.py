"""Static checks of ps-module/MSCommerce: syntax (tree-sitter), the surface against the hand-written
golden file, the manifest, comment-based help, the thin-function design, the format view."""

from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET

import pytest

import psast
from conftest import HERE, MODULE_DIR, REPO, module_script_files

PUBLIC_DIR = MODULE_DIR / "Public"
PRIVATE_DIR = MODULE_DIR / "Private"

# The cmdlets of cmdlets.md, and the baseline cmdlets of issue 10 (docs/bulk-and-baselines.md).
PUBLISHED_FUNCTIONS = [
    "Connect-MSCommerce", "Disconnect-MSCommerce", "Get-MSCommerceConnectionInfo",
    "Get-MSCommercePolicies", "Get-MSCommercePolicy", "Get-MSCommerceProductPolicies",
    "Get-MSCommerceProductPolicy", "Update-MSCommerceProductPolicy",
]
BASELINE_FUNCTIONS = ["Export-MSCommerceBaseline", "Test-MSCommerceBaseline", "Sync-MSCommerceBaseline"]
PUBLIC_FUNCTIONS = PUBLISHED_FUNCTIONS + BASELINE_FUNCTIONS


# ---------------------------------------------------------------------------------------------
# 1. Syntax
# ---------------------------------------------------------------------------------------------

def test_tree_sitter_reports_real_syntax_errors():
    """The parser check is real: broken PowerShell yields ERROR/MISSING nodes."""
    assert psast.syntax_problems("function f {\n    param(\n        [string] $a\n    \n    if ($a -eq {\n}\n")
    assert psast.syntax_problems("$x = @{ a = 1\n")
    assert not psast.syntax_problems("function f {\n    param(\n        [string] $a\n    )\n    $a\n}\n")


def test_module_has_script_files():
    names = {p.name for p in module_script_files()}
    assert {"MSCommerce.psd1", "MSCommerce.psm1"} <= names
    assert len(names) >= 10


@pytest.mark.parametrize("path", module_script_files(), ids=lambda p: str(p.relative_to(MODULE_DIR)))
def test_script_parses_without_errors(path):
    problems = psast.syntax_problems(path.read_bytes())
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", module_script_files(), ids=lambda p: str(p.relative_to(MODULE_DIR)))
def test_script_avoids_constructs_tree_sitter_misparses(path):
    """testing.md: param(...) followed by code on one line, two switch clauses on one line,
    labelled break/continue and empty here-strings are parsed wrongly: the module avoids them."""
    source = path.read_text(encoding="utf-8")
    for number, line in enumerate(source.splitlines(), 1):
        stripped = line.strip()
        assert not re.match(r"^param\s*\(.*\)\s*\S", stripped, re.I), f"{path.name}:{number}: code after param(...)"
        assert not re.search(r"\b(break|continue)\s+[A-Za-z_]\w*\s*$", stripped) or stripped.startswith("#"), f"{path.name}:{number}: labelled break/continue"
        assert not re.match(r"^:[A-Za-z_]\w*\s+(foreach|for|while|do|switch)\b", stripped, re.I), f"{path.name}:{number}: loop label"
    assert not re.search(r"@\"\r?\n\"@|@'\r?\n'@", source), f"{path.name}: empty here-string"


def test_files_are_utf8_without_bom_and_crlf_free_of_tabs():
    for path in list(module_script_files()) + sorted(MODULE_DIR.rglob("*.cs")) + [MODULE_DIR / "MSCommerce.format.ps1xml"]:
        data = path.read_bytes()
        data.decode("utf-8")
        assert b"\t" not in data, f"{path.name} has tabs"


# ---------------------------------------------------------------------------------------------
# 2. Surface and manifest
# ---------------------------------------------------------------------------------------------

PARAMETER_DEFAULTS = {"aliases": [], "validateSet": None, "validateRange": None, "validateNotNullOrEmpty": False, "default": None}
SET_DEFAULTS = {"mandatory": False, "position": None, "valueFromPipeline": False, "valueFromPipelineByPropertyName": False}


def expand_golden(function: dict) -> dict:
    expanded = {
        "defaultParameterSet": function["defaultParameterSet"],
        "supportsShouldProcess": function["supportsShouldProcess"],
        "confirmImpact": function["confirmImpact"],
        "parameters": {},
    }
    for name, parameter in function["parameters"].items():
        entry = copy.deepcopy(PARAMETER_DEFAULTS)
        entry.update({k: v for k, v in parameter.items() if k != "sets"})
        entry["sets"] = {}
        for set_name, info in parameter["sets"].items():
            merged = dict(SET_DEFAULTS)
            merged.update(info)
            entry["sets"][psast.ALL_SETS if set_name == "*" else set_name] = merged
        expanded["parameters"][name] = entry
    return expanded


def extracted(function_info) -> dict:
    surface = function_info.surface
    return {
        "defaultParameterSet": surface["defaultParameterSet"],
        "supportsShouldProcess": surface["supportsShouldProcess"],
        "confirmImpact": surface["confirmImpact"],
        "parameters": surface["parameters"],
    }


def test_golden_lists_the_cmdlets_of_cmdlets_md_and_the_baseline_cmdlets(golden):
    assert golden["module"] == "MSCommerce"
    assert sorted(golden["functions"]) == sorted(PUBLIC_FUNCTIONS)


def test_every_golden_function_is_defined_as_an_advanced_function(golden, module_functions):
    for name in golden["functions"]:
        assert name in module_functions, f"{name} is not defined in the module"
        assert module_functions[name].surface["cmdletBinding"], f"{name} has no [CmdletBinding()]"
        assert module_functions[name].path.parent == PUBLIC_DIR, f"{name} should live in Public/"


def test_public_folder_holds_exactly_the_golden_functions(golden, module_functions):
    public = sorted(name for name, info in module_functions.items() if info.path.parent == PUBLIC_DIR)
    assert public == sorted(golden["functions"])


@pytest.mark.parametrize("name", PUBLIC_FUNCTIONS)
def test_surface_matches_golden(name, golden, module_functions):
    want = expand_golden(golden["functions"][name])
    got = extracted(module_functions[name])
    if got != want:
        diffs = []
        for key in ("defaultParameterSet", "supportsShouldProcess", "confirmImpact"):
            if got[key] != want[key]:
                diffs.append(f"{key}: module {got[key]!r}, golden {want[key]!r}")
        for parameter in sorted(set(got["parameters"]) | set(want["parameters"])):
            g = got["parameters"].get(parameter)
            w = want["parameters"].get(parameter)
            if g != w:
                diffs.append(f"-{parameter}:\n  module {json.dumps(g, sort_keys=True)}\n  golden {json.dumps(w, sort_keys=True)}")
        pytest.fail(f"{name} differs from surface.golden.json:\n" + "\n".join(diffs))


def test_parameter_order_in_the_published_cmdlets(module_functions):
    """Positional parameters are declared in position order (as the published module lists them)."""
    for info in module_functions.values():
        if info.path.parent != PUBLIC_DIR:
            continue
        for set_name in psast.all_set_names(info.surface):
            positions = [
                psast.in_set(entry, set_name)["position"]
                for entry in info.surface["parameters"].values()
                if psast.in_set(entry, set_name) is not None and psast.in_set(entry, set_name)["position"] is not None
            ]
            assert positions == sorted(positions), f"{info.name} [{set_name}] positions {positions}"
            assert len(positions) == len(set(positions)), f"{info.name} [{set_name}] duplicate positions"


def test_manifest(manifest, golden):
    assert manifest["RootModule"] == "MSCommerce.psm1"
    # Above Microsoft's 1.x-3.x: scripts that require MSCommerce 2.0 accept it (about_MSCommerce).
    assert manifest["ModuleVersion"] == "4.0.0"
    assert manifest["PowerShellVersion"] == "5.1"
    assert manifest["CompatiblePSEditions"] == ["Desktop", "Core"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", manifest["GUID"])
    assert manifest["CmdletsToExport"] == []
    assert manifest["VariablesToExport"] == []
    assert manifest["AliasesToExport"] == []
    assert manifest["FormatsToProcess"] == ["MSCommerce.format.ps1xml"]
    assert (MODULE_DIR / manifest["RootModule"]).is_file()
    for name in manifest["FormatsToProcess"]:
        assert (MODULE_DIR / name).is_file()
    assert MODULE_DIR.name == "MSCommerce", "Import-Module -Name MSCommerce needs the folder to be named MSCommerce"


def test_functions_to_export_equals_golden(manifest, golden):
    exported = manifest["FunctionsToExport"]
    assert isinstance(exported, list) and all("*" not in name for name in exported), "no wildcards"
    assert sorted(exported) == sorted(golden["functions"])


def test_psm1_exports_the_same_list_and_dot_sources_every_script(manifest):
    source = (MODULE_DIR / "MSCommerce.psm1").read_text(encoding="utf-8")
    invocations = [i for i in psast.invocations_in(source) if i.name == "Export-ModuleMember"]
    assert len(invocations) == 1
    exported = re.findall(r"'([A-Za-z]+-MSCommerce\w*)'", invocations[0].source)
    assert sorted(exported) == sorted(manifest["FunctionsToExport"])
    for folder in (PUBLIC_DIR, PRIVATE_DIR):
        for script in folder.glob("*.ps1"):
            assert f"'{script.name}'" in source, f"MSCommerce.psm1 does not dot-source {folder.name}/{script.name}"


# ---------------------------------------------------------------------------------------------
# Thin functions, dispatcher, errors
# ---------------------------------------------------------------------------------------------

def calls_in(info) -> list[psast.Invocation]:
    return psast.invocations_in(psast.text(info.node, info.src))


@pytest.mark.parametrize("name", PUBLIC_FUNCTIONS)
def test_public_function_is_one_dispatcher_call(name, module_functions):
    info = module_functions[name]
    calls = calls_in(info)
    dispatcher = [c for c in calls if c.name == "Invoke-MSCommerceNative"]
    assert len(dispatcher) == 1, f"{name} calls the dispatcher {len(dispatcher)} times"
    assert any(p[1] == "Caller" for p in dispatcher[0].named), "the dispatcher gets -Caller $PSCmdlet"
    preference = [c for c in calls if c.name == "Use-MSCommerceCallerPreference"]
    assert len(preference) == 1, f"{name} takes the caller's preference variables once"
    assert calls.index(preference[0]) == 0, f"{name} takes the caller's preferences before anything else"
    assert ("Cmdlet", "$PSCmdlet") in [(p[1], p[2]) for p in preference[0].named] or "-Cmdlet $PSCmdlet" in preference[0].source
    private = {n for n, i in module_functions.items() if i.path.parent == PRIVATE_DIR}
    allowed = ("Invoke-MSCommerceNative", "ConvertTo-MSCommerceConnectRequest", "Use-MSCommerceCallerPreference")
    others = [c.name for c in calls if c.name in private and c.name not in allowed]
    assert not others, f"{name} calls private helpers besides the dispatcher: {others}"
    body = psast.text(info.node, info.src)
    for forbidden in ("NativeSession", "ConvertFrom-Json", "Write-Host", "throw ", "Write-Error"):
        assert forbidden not in body, f"{name} does '{forbidden}' itself instead of leaving it to the dispatcher"


def test_update_uses_should_process_and_progress(module_functions):
    body = psast.text(module_functions["Update-MSCommerceProductPolicy"].node, module_functions["Update-MSCommerceProductPolicy"].src)
    assert "$PSCmdlet.ShouldProcess(" in body
    for block in ("begin", "process", "end"):
        assert re.search(rf"^\s*{block}\s*\{{", body, re.M), f"no {block} block"
    dispatcher = psast.text(module_functions["Invoke-MSCommerceNative"].node, module_functions["Invoke-MSCommerceNative"].src)
    assert "Write-Progress" in dispatcher and "-Completed" in dispatcher


def script_assignments(source: str) -> tuple[bytes, dict]:
    """(source bytes, {'$script:Name': assignment node}) of a script's module-scope variables."""
    src, nodes = psast.nodes_of(source, "assignment_expression")
    found = {}
    for node in nodes:
        left = psast.text(node.named_children[0], src)
        if left.startswith("$script:"):
            found[left] = node
    return src, found


def private_source() -> str:
    """The private scripts (the dispatcher and the pieces it is made of) as one text."""
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(PRIVATE_DIR.glob("*.ps1")))


def test_dispatcher_maps_codes_to_categories_as_specified():
    source = private_source()
    src, assignments = script_assignments(source)
    names = psast.data_value(assignments["$script:MSCommerceCodeNames"].named_children[-1], src)
    assert names == ["OK", "InvalidArgument", "NotConnected", "Authentication", "Forbidden", "NotFound",
                     "Throttled", "Service", "Network", "Timeout", "Pending", "Internal"]
    categories_text = psast.text(assignments["$script:MSCommerceErrorCategories"], src)
    mapping = dict(re.findall(r"(\w+)\s*=\s*\[System\.Management\.Automation\.ErrorCategory\]::(\w+)", categories_text))
    assert mapping == {
        "InvalidArgument": "InvalidArgument",
        "NotConnected": "AuthenticationError",
        "Authentication": "AuthenticationError",
        "Forbidden": "PermissionDenied",
        "NotFound": "ObjectNotFound",
        "Throttled": "LimitsExceeded",
        "Network": "ConnectionError",
        "Timeout": "OperationTimeout",
    }
    assert "[System.Management.Automation.ErrorCategory]::NotSpecified" in source
    assert '"MSCommerce.$name"' in source, "ErrorId is MSCommerce.<Code>"
    assert "$Caller.ThrowTerminatingError(" in source and "$Caller.WriteError(" in source
    assert "Write-Verbose" in source and "$answer.log" in source
    assert "'Connection established successfully'" in source and "Write-Host 'Connection established successfully'" in source
    assert re.search(r"Start-Sleep -Milliseconds \d+", source), "the sign-in poll loop sleeps briefly between polls"
    assert "TypeNames.Insert(0" in source


def test_shim_is_compiled_once_and_session_freed_on_remove():
    native = (PRIVATE_DIR / "Native.ps1").read_text(encoding="utf-8")
    assert "'MSCommerce.Native.NativeMethods' -as [type]" in native
    # The precompiled shim first; compiling its source only where the module lacks it.
    assert "'bin', 'MSCommerce.Native.dll'" in native and "'src', 'MSCommerce.Native.cs'" in native
    assert native.index("[System.IO.File]::Exists($assemblyPath)") < native.index("Add-Type -TypeDefinition")
    # No path baked into the shim: the library's absolute path is given at run time.
    assert "$nativeMethods::Load($LibraryPath)" in native
    assert "__MSCOMMERCE_LIBRARY_PATH__" not in native
    locate = (PRIVATE_DIR / "Import.ps1").read_text(encoding="utf-8")
    assert "$IsWindows" in locate and "Is64BitProcess" in locate and "ProcessArchitecture" in locate
    assert "build.ps1" in native and "build.ps1" in locate
    for rid_part in ("'win'", "'linux'", "'osx'", "mscommerce.dll", "libmscommerce.so", "libmscommerce.dylib"):
        assert rid_part in locate
    psm1 = (MODULE_DIR / "MSCommerce.psm1").read_text(encoding="utf-8")
    assert "$ExecutionContext.SessionState.Module.OnRemove" in psm1 and ".Dispose()" in psm1


# ---------------------------------------------------------------------------------------------
# Help
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", PUBLIC_FUNCTIONS)
def test_comment_based_help(name, module_functions, golden):
    info = module_functions[name]
    assert info.help_comment, f"{name} has no comment-based help"
    help_ = psast.parse_help(info.help_comment)
    assert help_.get("SYNOPSIS"), f"{name}: no .SYNOPSIS"
    assert help_.get("DESCRIPTION"), f"{name}: no .DESCRIPTION"
    documented = {k.lower() for k in help_["PARAMETER"]}
    for parameter in golden["functions"][name]["parameters"]:
        assert parameter.lower() in documented, f"{name}: -{parameter} has no .PARAMETER help"
        assert help_["PARAMETER"][next(k for k in help_["PARAMETER"] if k.lower() == parameter.lower())].strip()
    assert documented <= {p.lower() for p in golden["functions"][name]["parameters"]}, f"{name}: help for unknown parameters"
    assert help_["EXAMPLE"], f"{name}: no .EXAMPLE"


def example_commands(example: str) -> str:
    """The code of an example: the lines before the first blank line."""
    return example.split("\n\n")[0]


@pytest.mark.parametrize("name", PUBLIC_FUNCTIONS)
def test_help_examples_parse_and_bind(name, module_functions):
    surfaces = {n: i.surface for n, i in module_functions.items()}
    for example in psast.parse_help(module_functions[name].help_comment)["EXAMPLE"]:
        code = example_commands(example)
        assert not psast.syntax_problems(code), f"{name} example does not parse:\n{code}"
        for invocation in psast.invocations_in(code):
            if invocation.name in surfaces:
                try:
                    psast.bind(surfaces[invocation.name], invocation)
                except psast.BindingError as error:
                    pytest.fail(f"{name} example: {invocation.source}\n{error}")
        assert any(i.name == name for i in psast.invocations_in(code)) or name == "Connect-MSCommerce", \
            f"{name} example does not use {name}"


SEED_EXAMPLES = {
    "Connect-MSCommerce": ["Connect-MSCommerce"],
    "Get-MSCommercePolicy": ["Get-MSCommercePolicy -PolicyId AllowSelfServicePurchase"],
    "Get-MSCommerceProductPolicies": ["Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase"],
    "Get-MSCommerceProductPolicy": ["Get-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N"],
    "Update-MSCommerceProductPolicy": [
        "Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N -Enabled $True",
        "Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId CFQ7TTC0KP0N -Enabled $False",
    ],
}

SEED_SCRIPT = (
    "Import-Module -Name MSCommerce\n"
    "Connect-MSCommerce #sign-in with your global or billing administrator account when prompted\n"
    "$product = Get-MSCommerceProductPolicies -PolicyId AllowSelfServicePurchase | where {$_.ProductName -match 'Power Automate'}\n"
    "Update-MSCommerceProductPolicy -PolicyId AllowSelfServicePurchase -ProductId $product.ProductID -Enabled $false"
)


@pytest.mark.parametrize("name", sorted(SEED_EXAMPLES))
def test_help_carries_the_seed_examples_verbatim(name, module_functions):
    examples = [example_commands(e) for e in psast.parse_help(module_functions[name].help_comment)["EXAMPLE"]]
    for command in SEED_EXAMPLES[name]:
        assert command in examples, f"{name}: the seed's example '{command}' is not an example of its help"


@pytest.mark.parametrize("name", ["Connect-MSCommerce", "Update-MSCommerceProductPolicy"])
def test_help_carries_the_seed_example_script(name, module_functions):
    examples = [example_commands(e) for e in psast.parse_help(module_functions[name].help_comment)["EXAMPLE"]]
    assert SEED_SCRIPT in examples


def test_connect_help_shows_every_sign_in_mode(module_functions):
    examples = "\n".join(psast.parse_help(module_functions["Connect-MSCommerce"].help_comment)["EXAMPLE"])
    for parameter in ("-UseDeviceCode", "-Credential", "-ClientSecretCredential", "-CertificateThumbprint",
                      "-CertificatePath", "-Identity", "-AccessToken", "-ServiceUrl"):
        assert parameter in examples, f"Connect-MSCommerce help has no example with {parameter}"


# The private scripts the import runs (MSCommerce.psm1's $importScripts); every other private script
# is loaded by the first call of a public function (Private/Import.ps1).
IMPORT_SCRIPTS = ["Import.ps1", "CallerPreference.ps1", "Register-MSCommerceArgumentCompleters.ps1"]
# The functions the import itself calls are plain functions: an advanced function's first call in
# a process costs tens of milliseconds that the first real command pays anyway.
IMPORT_TIME_FUNCTIONS = {"Get-MSCommerceRuntimeIdentifier", "Resolve-MSCommerceFileSystemPath",
                         "Resolve-MSCommerceNativeLibrary", "Initialize-MSCommerceNative",
                         "Import-MSCommercePrivateScript", "Register-MSCommerceArgumentCompleters"}


def psm1_script_list(variable: str) -> list[str]:
    source = (MODULE_DIR / "MSCommerce.psm1").read_text(encoding="utf-8")
    match = re.search(re.escape(variable) + r" = @\(([^)]*)\)", source)
    assert match, f"MSCommerce.psm1 sets {variable} = @(...)"
    return re.findall(r"'([^']+\.ps1)'", match.group(1))


def test_private_functions_have_cmdletbinding(module_functions):
    for name, info in module_functions.items():
        if info.path.parent == PRIVATE_DIR and name not in IMPORT_TIME_FUNCTIONS:
            assert info.surface["cmdletBinding"], f"{name} has no [CmdletBinding()]"


def test_import_time_functions_are_plain_and_defined_where_the_import_runs(module_functions):
    for name in IMPORT_TIME_FUNCTIONS:
        info = module_functions[name]
        assert not info.surface["cmdletBinding"], f"{name} runs at import: make it a plain function"
        assert info.path.name in IMPORT_SCRIPTS, f"{name} runs at import but lives in {info.path.name}"
    psm1 = (MODULE_DIR / "MSCommerce.psm1").read_text(encoding="utf-8")
    assert "Initialize-MSCommerceNative -ModuleRoot $PSScriptRoot" in psm1
    assert "\nRegister-MSCommerceArgumentCompleters\n" in psm1


def test_private_scripts_load_at_import_or_at_first_use_into_the_module_scope(module_functions):
    """Each private script is in exactly one of the psm1's lists; the lazily loaded ones declare
    their functions as `function script:Name` (they run inside Import-MSCommercePrivateScript, and a
    plain declaration would vanish with its scope) and their variables as $script:Name."""
    at_import = psm1_script_list("$importScripts")
    at_first_use = psm1_script_list("$script:MSCommercePrivateScripts")
    assert sorted(at_import) == sorted(IMPORT_SCRIPTS)
    on_disk = sorted(p.name for p in PRIVATE_DIR.glob("*.ps1"))
    assert sorted(at_import + at_first_use) == on_disk
    for name, info in module_functions.items():
        if info.path.parent != PRIVATE_DIR:
            continue
        if info.path.name in at_first_use:
            assert info.scope == "script", f"{info.path.name}: declare {name} as function script:{name}"
        else:
            assert info.scope is None, f"{info.path.name} runs at import: declare {name} as function {name}"
    for script in at_first_use:
        source = (PRIVATE_DIR / script).read_text(encoding="utf-8")
        for line in source.splitlines():
            assert not re.match(r"^\$(?!script:)\w+\s*=", line), f"{script}: top-level '{line.strip()}' must set $script:"
    caller = module_functions["Use-MSCommerceCallerPreference"]
    body = psast.text(caller.node, caller.src)
    assert body.index("Import-MSCommercePrivateScript") < body.index("$Cmdlet.MyInvocation.BoundParameters")


def test_about_help_topic():
    path = MODULE_DIR / "en-US" / "about_MSCommerce.help.txt"
    content = path.read_text(encoding="utf-8")
    assert content.startswith("TOPIC\n    about_MSCommerce\n")
    for heading in ("SHORT DESCRIPTION", "LONG DESCRIPTION", "SEE ALSO"):
        assert f"\n{heading}\n" in content
    assert SEED_SCRIPT.replace("\n", "\n    ") in content


# ---------------------------------------------------------------------------------------------
# Format view
# ---------------------------------------------------------------------------------------------

def item_name(item) -> str:
    """A view item's property, or the label of a computed one."""
    name = item.find("PropertyName")
    return name.text if name is not None else item.find("Label").text


def views(all_views: bool = False) -> dict:
    """The default (first) view of each type; all_views: {view name: view} instead."""
    root = ET.parse(MODULE_DIR / "MSCommerce.format.ps1xml").getroot()
    found = {}
    for view in root.iter("View"):
        type_name = view.find("ViewSelectedBy/TypeName").text
        key = view.find("Name").text if all_views else type_name
        if key in found:
            continue
        control = view.find("TableControl")
        if control is None:
            control = view.find("ListControl")
            found[key] = ("list", [item_name(i) for i in control.iter("ListItem")])
        else:
            found[key] = ("table", [item_name(i) for i in control.iter("TableColumnItem")])
    return found


def test_product_policy_table_keeps_the_published_column_order():
    kind, columns = views()["MSCommerce.ProductPolicy"]
    assert kind == "table"
    assert columns == ["PolicyValue", "ProductId", "PolicyId", "ProductName"]
    root = ET.parse(MODULE_DIR / "MSCommerce.format.ps1xml").getroot()
    for view in root.iter("View"):
        if view.find("ViewSelectedBy/TypeName").text == "MSCommerce.ProductPolicy":
            assert not list(view.iter("Width")), "no fixed widths: values must not be cut (scripts split the text)"


def test_views_for_every_output_type():
    found = views()
    assert set(found["MSCommerce.Policy"][1]) == {"PolicyId", "Description", "DefaultValue"}
    assert set(found["MSCommerce.ScopePolicy"][1]) == {"PolicyId", "PolicyValue", "Scope", "ScopeId", "ScopeValue"}
    assert set(found["MSCommerce.Connection"][1]) == {"Account", "TenantId", "ClientId", "Flow", "Environment", "ExpiresOn"}
    assert found["MSCommerce.BaselineDrift"] == ("table", ["ProductId", "ProductName", "Expected", "Actual", "Reason"])
    assert found["MSCommerce.Baseline"] == ("list", ["PolicyId", "TenantId", "ExportedAt", "Tool", "Products", "OtherProducts"])


def test_bulk_results_have_a_second_view_the_default_stays_published():
    """Format-Table -View Changes shows what a bulk change or baseline apply did; the default view
    of MSCommerce.ProductPolicy stays the published four columns."""
    assert views(all_views=True)["Changes"] == ("table", ["ProductId", "ProductName", "PreviousValue", "PolicyValue", "Status"])
    assert views()["MSCommerce.ProductPolicy"][1] == ["PolicyValue", "ProductId", "PolicyId", "ProductName"]


def test_argument_completers_registered():
    source = (PRIVATE_DIR / "Register-MSCommerceArgumentCompleters.ps1").read_text(encoding="utf-8")
    invocations = [i for i in psast.invocations_in(source) if i.name == "Register-ArgumentCompleter"]
    parameters = {re.search(r"-ParameterName '(\w+)'", i.source).group(1) for i in invocations}
    assert {"PolicyId", "ProductId", "Value", "OtherProducts"} <= parameters
    assert "AllowSelfServicePurchase" in source and "OnlyTrialsWithoutPaymentMethod" in source
    assert "$script:MSCommerceProductCache" in source
    psm1 = (MODULE_DIR / "MSCommerce.psm1").read_text(encoding="utf-8")
    assert "Register-MSCommerceArgumentCompleters" in psm1


# ---------------------------------------------------------------------------------------------
# Requests against the C ABI's JSON (native-abi.md)
# ---------------------------------------------------------------------------------------------

# With the bulk and baseline fields of docs/bulk-and-baselines.md (the dispatcher adds step,
# whatIf and a baseline file's text) and the tenants of docs/fleet.md (one of them becomes tenantId).
ABI_FLEET_FIELDS = {"tenants", "tenantConcurrency"}
ABI_GET_FIELDS = {"resource", "policyId", "productId", "offerType", "scope", "otherProducts", "accessToken"} | ABI_FLEET_FIELDS
ABI_GET_RESOURCES = {"policies", "policy", "productPolicies", "productPolicy", "offerTypePolicy", "connection",
                     "baseline", "baselineDrift"}
ABI_UPDATE_FIELDS = {"policyId", "productId", "offerType", "value", "enabled", "concurrency", "accessToken"} | ABI_FLEET_FIELDS
ABI_FLOWS = {"accessToken", "clientSecret", "certificate", "managedIdentity", "password", "deviceCode", "interactive"}
ABI_CONNECT_FIELDS = {"flow", "step", "accessToken", "tenantId", "clientId", "clientSecret", "certificatePath",
                      "certificatePassword", "certificateThumbprint", "username", "password", "redirectUri",
                      "loginHint", "scope", "environment", "serviceUrl", "authorityHost"}


def hash_literals(info) -> list[dict]:
    """Each hash literal in a function as {key: value source text}."""
    src, nodes = psast.nodes_of(psast.text(info.node, info.src), "hash_literal_expression")
    found = []
    for node in nodes:
        body = psast.child_of(node, "hash_literal_body")
        entries = {}
        for entry in (body.named_children if body is not None else []):
            if entry.type == "hash_entry":
                entries[psast.text(entry.named_children[0], src)] = psast.text(entry.named_children[-1], src)
        found.append(entries)
    return found


@pytest.mark.parametrize("name,operation", [
    ("Get-MSCommerceConnectionInfo", "get"), ("Get-MSCommercePolicies", "get"), ("Get-MSCommercePolicy", "get"),
    ("Get-MSCommerceProductPolicies", "get"), ("Get-MSCommerceProductPolicy", "get"),
    ("Update-MSCommerceProductPolicy", "update"), ("Export-MSCommerceBaseline", "get"),
    ("Test-MSCommerceBaseline", "get"), ("Sync-MSCommerceBaseline", "update"),
])
def test_requests_use_the_abi_fields(name, operation, module_functions):
    literals = [h for h in hash_literals(module_functions[name]) if h]
    assert literals, f"{name} builds no request"
    allowed = ABI_GET_FIELDS if operation == "get" else ABI_UPDATE_FIELDS
    for literal in literals:
        assert set(literal) <= allowed, f"{name}: fields {sorted(set(literal) - allowed)} are not in the {operation} request of native-abi.md"
        assert "accessToken" in literal and "$Token" in literal["accessToken"], f"{name}: -Token is sent as accessToken"
        if operation == "get":
            value = literal["resource"]
            resources = set(re.findall(r"\{\s*'(\w+)'\s*\}", value)) or set(re.findall(r"^'(\w+)'$", value))
            assert resources and resources <= ABI_GET_RESOURCES, resources
    if name == "Get-MSCommerceProductPolicies":
        assert literals[0]["scope"] == "$Scope", "scope is passed only as the user typed it (empty: left out)"
    if name == "Update-MSCommerceProductPolicy":
        assert "[string]$Enabled" in literals[0]["enabled"], "-Enabled is passed through as typed; the library parses it"


def test_connect_request_covers_every_parameter_set_and_parameter(golden):
    source = (PRIVATE_DIR / "ConvertTo-MSCommerceConnectRequest.ps1").read_text(encoding="utf-8")
    src, assignments = script_assignments(source)
    flows = psast.data_value(assignments["$script:MSCommerceConnectFlows"].named_children[-1], src)
    fields = psast.data_value(assignments["$script:MSCommerceConnectFields"].named_children[-1], src)
    connect = golden["functions"]["Connect-MSCommerce"]["parameters"]
    sets = {s for p in connect.values() for s in p["sets"] if s != "*"}
    assert set(flows) == sets, "every parameter set names a flow"
    assert set(flows.values()) == ABI_FLOWS, "every flow of native-abi.md is reachable"
    assert set(fields) <= set(connect)
    assert set(fields.values()) <= ABI_CONNECT_FIELDS
    handled_specially = {"RedirectUri", "Credential", "ClientSecretCredential", "CertificatePath", "CertificatePassword", "AccessToken"}
    set_switches = {"UseDeviceCode", "Identity"}
    assert set(connect) == set(fields) | handled_specially | set_switches
    for special in handled_specially:
        assert f"'{special}'" in source
    for field in ("redirectUri", "username", "password", "clientSecret", "certificatePath", "certificatePassword", "accessToken"):
        assert f"$request['{field}']" in source, field
    assert "$request['step'] = 'start'" in source


# ---------------------------------------------------------------------------------------------
# Run-time pitfalls a static look can catch (the module never ran on a real PowerShell here)
# ---------------------------------------------------------------------------------------------

def method_calls(node, src: bytes) -> list[tuple[str, str, int]]:
    """(receiver variable in lower case, method, line) of each `$variable.Method(...)` under node."""
    found = []
    for child in psast.walk(node):
        if child.type != "invocation_expression" or not child.named_children:
            continue
        receiver = child.named_children[0]
        member = psast.child_of(child, "member_name")
        if receiver.type == "variable" and member is not None:
            found.append((psast.text(receiver, src).lower(), psast.text(member, src), child.start_point[0] + 1))
    return found


def foreach_variables_over(node, src: bytes, collections: set[str]) -> set[str]:
    """Loop variables of `foreach ($x in $collection)` for the given collection variables."""
    loops = set()
    for child in psast.walk(node):
        if child.type != "foreach_statement":
            continue
        named = [c for c in child.named_children if c.type in ("variable", "pipeline")]
        if len(named) >= 2 and psast.text(named[1], src).strip().lower() in collections:
            loops.add(psast.text(named[0], src).lower())
    return loops


def parameters_receiving_bound_parameters(module_functions) -> dict[str, set[str]]:
    """{function: {'$param'}} for each call `Function -Param $PSBoundParameters` in the module."""
    receiving: dict[str, set[str]] = {}
    for info in module_functions.values():
        for invocation in calls_in(info):
            elements = invocation.elements
            for position, element in enumerate(elements[:-1]):
                following = elements[position + 1]
                if element[0] == "param" and following[0] == "arg" and following[1].lower() == "$psboundparameters":
                    receiving.setdefault(invocation.name, set()).add("$" + element[1].lower())
    return receiving


def test_dictionaries_are_not_probed_with_contains(module_functions):
    """$PSBoundParameters is a Dictionary[string, object]: its IDictionary.Contains is an explicit
    interface member, which PowerShell cannot call ("does not contain a method named 'Contains'" on
    5.1, "Cannot find an overload for "Contains"" on 7). A parameter typed IDictionary may receive
    it (or an OrderedDictionary, which has no ContainsKey): test keys with `.Keys -contains` or read
    the indexer, which gives $null for an absent key."""
    receiving = parameters_receiving_bound_parameters(module_functions)
    problems = []
    for name, info in module_functions.items():
        no_contains = {"$psboundparameters"} | receiving.get(name, set())
        typed = {"$" + p.lower() for p, e in info.surface["parameters"].items()
                 if e["type"] in ("idictionary", "idictionary[]")}
        typed |= foreach_variables_over(info.node, info.src, typed)
        for receiver, method, line in method_calls(info.node, info.src):
            if receiver in no_contains and method.lower() == "contains":
                problems.append(f"{info.path.name}:{line} {name}: {receiver}.{method}( on $PSBoundParameters")
            if receiver in typed and method.lower() in ("contains", "containskey"):
                problems.append(f"{info.path.name}:{line} {name}: {receiver}.{method}( on an IDictionary parameter")
    assert not problems, "\n".join(problems)


def test_the_dictionary_check_catches_the_pattern():
    source = (
        "function A {\n    [CmdletBinding()]\n    param(\n        [string] $X\n    )\n"
        "    B -Bound $PSBoundParameters\n}\n"
        "function B {\n    [CmdletBinding()]\n    param(\n        $Bound\n    )\n"
        "    if ($Bound.Contains('X')) {\n        1\n    }\n}\n"
    )
    functions = {}
    for info in psast.functions_in(source):
        info.path = PRIVATE_DIR / "example.ps1"
        functions[info.name] = info
    with pytest.raises(AssertionError, match=r"\$bound\.Contains\("):
        test_dictionaries_are_not_probed_with_contains(functions)


def test_error_records_survive_an_unresolvable_exception_type():
    """New-Object -TypeName finds only types of assemblies already loaded (AuthenticationException is
    in System.Net.Primitives on .NET): the dispatcher resolves the name with -as [type] and falls
    back to System.Exception, so an error never turns into "Cannot find type"."""
    source = (PRIVATE_DIR / "ErrorRecord.ps1").read_text(encoding="utf-8")
    assert "$script:MSCommerceExceptionTypes[$name] -as [type]" in source
    assert "$exceptionType = [System.Exception]" in source
    assert re.search(r"catch \{\s*\$exception = New-Object -TypeName System\.Exception -ArgumentList \$message", source)
    assert not re.search(r"New-Object -TypeName \$exceptionType\b(?!\.FullName)", source)


def test_probes_do_not_leave_errors_in_error_variable():
    """-ErrorAction SilentlyContinue still records the error in $Error: the probe for $IsWindows
    (absent on Windows PowerShell 5.1) would leave three errors behind at every import."""
    problems = []
    for path in module_script_files():
        if path.suffix.lower() == ".psd1":
            continue
        for invocation in psast.invocations_in(path.read_bytes()):
            if invocation.name.lower() in ("get-variable", "get-command", "get-item", "get-module"):
                if re.search(r"-ErrorAction\s+SilentlyContinue|-ea\s+SilentlyContinue", invocation.source, re.I):
                    problems.append(f"{path.name}:{invocation.line}: {invocation.source}")
    assert not problems, "use -ErrorAction Ignore for probes:\n" + "\n".join(problems)


@pytest.mark.parametrize("script", ["Invoke-MSCommerceNative.ps1", "Bulk.ps1"])
def test_progress_is_completed_in_a_finally_block(script):
    """Write-Progress -Completed runs however the loop ends (a terminating error, a WriteError made
    terminating by -ErrorAction Stop, Ctrl+C), or the bar stays on screen."""
    src, commands = psast.nodes_of((PRIVATE_DIR / script).read_bytes(), "command")
    completions = [c for c in commands
                   if psast.text(psast.child_of(c, "command_name"), src) == "Write-Progress" and "-Completed" in psast.text(c, src)]
    assert completions, "the dispatcher completes its progress bar"
    for command in completions:
        ancestor, inside_finally = command.parent, False
        while ancestor is not None:
            inside_finally = inside_finally or ancestor.type == "finally_clause"
            ancestor = ancestor.parent
        assert inside_finally, f"line {command.start_point[0] + 1}: Write-Progress -Completed outside a finally block"


def native_environment_variables() -> set[str]:
    """Environment variables the native library reads: the names src/environment.rs lists and those
    the library looks up through it (env.var / env.is_set / env.first), outside tests."""
    names = set()
    source_dir = REPO / "src"
    for path in source_dir.rglob("*.rs"):
        relative = path.relative_to(source_dir).parts
        if relative[0] in ("emulator", "bin"):
            continue
        text = path.read_text(encoding="utf-8").split("#[cfg(test)]")[0]
        if path.name == "environment.rs":
            names |= set(re.findall(r'"([A-Z][A-Z0-9_]+)"', text))
        names |= set(re.findall(r'env\.(?:var|is_set|first)\(\s*"([A-Z][A-Z0-9_]+)"', text))
    return names


def env_assignments(source: bytes) -> list[tuple[str, object, bytes]]:
    src, nodes = psast.nodes_of(source, "assignment_expression")
    found = []
    for node in nodes:
        left = psast.text(node.named_children[0], src)
        match = re.fullmatch(r"\$env:(\w+)", left.strip(), re.I)
        if match:
            found.append((match.group(1).upper(), node, src))
    return found


def test_variables_the_native_library_reads_reach_it():
    """On Linux and macOS, .NET keeps $env: changes in its own copy: native code never sees them. So
    the module passes what PowerShell sees of every variable the library reads (Environment.ps1's
    pattern) at each connect, and never sets one itself."""
    names = native_environment_variables()
    assert {"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "HTTPS_PROXY", "NO_PROXY", "SSL_CERT_FILE"} <= names, names
    environment = (PRIVATE_DIR / "Environment.ps1").read_text(encoding="utf-8")
    pattern = re.search(r"\$script:MSCommerceEnvironmentPattern = '([^']+)'", environment).group(1)
    missing = sorted(n for n in names if not re.match(pattern, n, re.I))
    assert not missing, f"the library reads {missing}, which the module does not pass"
    assert "environmentVariables = (Get-MSCommerceEnvironmentSnapshot)" in (PRIVATE_DIR / "ConvertTo-MSCommerceConnectRequest.ps1").read_text(encoding="utf-8")
    for path in module_script_files():
        for name, node, src in env_assignments(path.read_bytes()):
            assert name not in names, f"{path.name}:{node.start_point[0] + 1}: sets $env:{name}, which the library reads"


# ---------------------------------------------------------------------------------------------
# Bulk changes and baselines (issue 10)
# ---------------------------------------------------------------------------------------------

def test_bulk_runs_through_the_steps_and_cancels_in_a_finally_block():
    """Several products and baseline applies go through step start / poll (progress, Ctrl+C
    between polls), and a run left early is cancelled in a finally block, never left running."""
    source = (PRIVATE_DIR / "Bulk.ps1").read_text(encoding="utf-8")
    for step in ("step = 'start'", "step = 'poll'", "step = 'cancel'"):
        assert step in source, step
    src, clauses = psast.nodes_of(source, "finally_clause")
    assert any("step = 'cancel'" in psast.text(c, src) for c in clauses), "cancel is sent from a finally block"
    assert "whatIf = $true" in source and "$Caller.ShouldProcess(" in source, "a what-if plan, ShouldProcess per product"
    dispatcher = (PRIVATE_DIR / "Invoke-MSCommerceNative.ps1").read_text(encoding="utf-8")
    assert "Invoke-MSCommerceFileOrBulk" in dispatcher and "'bulk'" in dispatcher
    assert "Invoke-MSCommerceBulk -Caller" in (PRIVATE_DIR / "Baseline.ps1").read_text(encoding="utf-8")


def test_update_sends_several_products_as_one_bulk_request(module_functions):
    body = psast.text(module_functions["Update-MSCommerceProductPolicy"].node, module_functions["Update-MSCommerceProductPolicy"].src)
    assert "$operation = 'bulk'" in body and ".productIds = " in body
    assert "-Operation $operation" in body


def test_module_files_stay_short():
    """No module file over ~500 lines: shared logic goes into a private helper."""
    for path in list(module_script_files()) + [MODULE_DIR / "MSCommerce.format.ps1xml"]:
        lines = path.read_text(encoding="utf-8").count("\n")
        assert lines <= 520, f"{path.relative_to(MODULE_DIR)} has {lines} lines"
