"""The module's C# P/Invoke shim, generated exactly as the module generates it, compiled with Mono's
mcs as C# 5 (what Windows PowerShell 5.1's Add-Type compiles), then checked by reflection and by
text for the marshalling rules of shared/spec/testing.md."""

from __future__ import annotations

import re

import pytest

import shim
from conftest import HERE, MODULE_DIR

pytestmark = pytest.mark.skipif(not shim.have_mono(), reason="Mono (mcs, mono) not installed: run .ci/install-powershell-deps.sh")

LIBRARY = "/opt/mscommerce/runtimes/linux-x64/native/libmscommerce.so"
# A Windows-style path with the characters the substitution must escape.
ODD_LIBRARY = 'C:\\Program Files\\Power"Shell\\Modules\\MSCommerce\\runtimes\\win-x64\\native\\mscommerce.dll'


@pytest.fixture(scope="module")
def checker(tmp_path_factory):
    directory = tmp_path_factory.mktemp("checker")
    out = directory / "ShimChecker.exe"
    result = shim.mcs([HERE / "mono" / "ShimChecker.cs"], out, target="exe", flags=["-r:System.dll"])
    assert result.returncode == 0, result.stdout + result.stderr
    return out


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    return shim.compile_shim(tmp_path_factory.mktemp("shim"), LIBRARY)


def code_only(source: str) -> str:
    """C# source without comments and string literals' contents (for text checks)."""
    source = re.sub(r"/\*.*?\*/", "", source, flags=re.S)
    source = re.sub(r"//[^\n]*", "", source)
    return source


def test_template_has_exactly_one_placeholder():
    template = shim.TEMPLATE.read_text(encoding="utf-8")
    assert template.count(shim.PLACEHOLDER) == 1
    assert f'public const string LibraryPath = "{shim.PLACEHOLDER}";' in template


def test_module_applies_the_same_substitution():
    """Native.ps1 replaces the same placeholder by the same escaping rule as shim.render()."""
    native = (MODULE_DIR / "Private" / "Native.ps1").read_text(encoding="utf-8")
    assert "$LibraryPath.Replace('\\', '\\\\').Replace('\"', '\\\"')" in native
    assert f"$template.Replace('{shim.PLACEHOLDER}', $escaped)" in native
    assert "'MSCommerce.Native.cs.template'" in native


def test_shim_compiles_as_csharp5_with_warnings_as_errors(compiled):
    assert compiled.is_file()


def test_odd_path_survives_substitution(tmp_path, checker):
    assembly = shim.compile_shim(tmp_path, ODD_LIBRARY)
    methods, constants = shim.reflect(checker, assembly)
    assert constants["MSCommerce.Native.NativeMethods.LibraryPath"] == ODD_LIBRARY
    assert {m["library"] for m in methods} == {ODD_LIBRARY}


def test_reflection_pinvoke_signatures(compiled, checker):
    methods, constants = shim.reflect(checker, compiled)
    assert constants["MSCommerce.Native.NativeMethods.LibraryPath"] == LIBRARY
    assert {m["entry"] for m in methods} == shim.ABI_FUNCTIONS, "one import per C ABI function"
    assert all(m["type"] == "MSCommerce.Native.NativeMethods" for m in methods)
    assert all(m["library"] == LIBRARY for m in methods), "DllImport names the absolute path"
    assert shim.marshalling_violations(methods) == []
    by_entry = {m["entry"]: m for m in methods}
    assert by_entry["msc_session_new"]["parameters"] == ["System.Byte[]", "out System.IntPtr&", "out System.IntPtr&"]
    for name in ("msc_connect", "msc_get", "msc_update"):
        assert by_entry[name]["parameters"] == ["System.IntPtr", "System.Byte[]", "out System.IntPtr&"]
        assert by_entry[name]["returnType"] == "System.Int32"
    assert by_entry["msc_version"]["returnType"] == "System.IntPtr"
    assert by_entry["msc_string_free"]["parameters"] == ["System.IntPtr"]


def test_reflection_check_catches_bad_signatures(tmp_path, checker):
    """The checker is real: string/StringBuilder/char parameters and a non-Cdecl import are flagged."""
    bad = tmp_path / "Bad.cs"
    bad.write_text(
        "using System; using System.Runtime.InteropServices; using System.Text;\n"
        "public static class Bad {\n"
        "  [DllImport(\"/x/libmscommerce.so\")] public static extern int a(string s);\n"
        "  [DllImport(\"/x/libmscommerce.so\", CallingConvention = CallingConvention.Cdecl)] public static extern string b(IntPtr p);\n"
        "  [DllImport(\"/x/libmscommerce.so\", CallingConvention = CallingConvention.Cdecl)] public static extern void c(StringBuilder s, char ch);\n"
        "  [DllImport(\"/x/libmscommerce.so\", CallingConvention = CallingConvention.Cdecl)] public static extern void d(out string s);\n"
        "}\n",
        encoding="utf-8",
    )
    out = tmp_path / "Bad.dll"
    result = shim.mcs([bad], out)
    assert result.returncode == 0, result.stdout + result.stderr
    methods, _ = shim.reflect(checker, out)
    problems = shim.marshalling_violations(methods)
    assert any("a: calling convention" in p for p in problems)
    assert any("a: System.String" in p for p in problems)
    assert any("b: System.String" in p for p in problems)
    assert any("c: System.Text.StringBuilder" in p for p in problems)
    assert any("c: System.Char" in p for p in problems)
    assert any("d: out System.String&" in p for p in problems)


FORBIDDEN_TEXT = {
    r"\{\s*get\s*;\s*\}": "getter-only auto-property (C# 6; mcs -langversion:5 lets it through)",
    r"\{\s*get\s*;\s*init\s*;": "init accessor",
    r"\bawait\b": "await (await in catch/finally is C# 6 and slips through)",
    r"PtrToStringUTF8": "Marshal.PtrToStringUTF8 (not in .NET Framework 4.x)",
    r"StringToCoTaskMemUTF8": "Marshal.StringToCoTaskMemUTF8 (not in .NET Framework 4.x)",
    r"PtrToStringAnsi|PtrToStringAuto|StringToHGlobalAnsi|StringToHGlobalAuto": "ANSI/auto string marshalling (corrupts UTF-8 on Windows)",
    r"\$\"": "string interpolation (C# 6)",
    r"\$@\"|@\$\"": "string interpolation (C# 6)",
    r"\bnameof\s*\(": "nameof (C# 6)",
    r"\?\.|\?\[": "null-conditional operator (C# 6)",
    r"=>": "lambda or expression-bodied member",
    r"\bout\s+var\b": "out var (C# 7)",
    r"CharSet\s*=\s*CharSet\.(Ansi|Auto|Unicode)": "string marshalling by CharSet",
    r"MarshalAs\s*\(\s*UnmanagedType\.(LPStr|LPWStr|LPTStr|LPUTF8Str|BStr)": "string marshalling attributes",
}


def test_text_rules_of_the_template():
    code = code_only(shim.TEMPLATE.read_text(encoding="utf-8"))
    found = [f"{why}: {pattern}" for pattern, why in FORBIDDEN_TEXT.items() if re.search(pattern, code)]
    assert not found, found
    imports = re.findall(r"\[DllImport\(([^\]]*)\)\]", code)
    assert len(imports) == len(shim.ABI_FUNCTIONS)
    for arguments in imports:
        assert arguments.startswith("LibraryPath,"), arguments
        assert "CallingConvention = CallingConvention.Cdecl" in arguments, arguments
    assert "Marshal.ReadByte" in code and "Marshal.Copy" in code and "Encoding.UTF8.GetString" in code
    assert re.search(r"finally\s*\{\s*NativeMethods\.msc_string_free\(", code), "answers are freed in finally"


def test_text_rules_catch_violations():
    samples = {
        "public string Name { get; }": "getter-only",
        'string s = $"x{y}";': "interpolation",
        "int n = nameof(x).Length;": "nameof",
        "var n = x?.Length;": "null-conditional",
        "public int N => 1;": "expression-bodied",
        "string s = Marshal.PtrToStringUTF8(p);": "PtrToStringUTF8",
        "IntPtr p = Marshal.StringToCoTaskMemUTF8(s);": "StringToCoTaskMemUTF8",
    }
    for sample in samples:
        assert any(re.search(pattern, sample) for pattern in FORBIDDEN_TEXT), sample


@pytest.mark.parametrize("snippet", [
    'class C { string M(int y) { return $"x{y}"; } }',
    "class C { string M(int x) { return nameof(x); } }",
    "class C { int? M(string s) { return s?.Length; } }",
    "class C { int M() => 1; }",
    "class C { void M(string s) { int.TryParse(s, out var n); } }",
    "class C { int P { get; } = 1; }",
])
def test_mcs_langversion5_rejects_csharp6(tmp_path, snippet):
    """The C# 5 compile is a real check: C# 6+ features fail with CS1644 (the auto-property
    initialiser included; only a getter-only property without initialiser slips through, which the
    text check forbids)."""
    source = tmp_path / "Snippet.cs"
    source.write_text(snippet + "\n", encoding="utf-8")
    result = shim.mcs([source], tmp_path / "Snippet.dll")
    assert result.returncode != 0, f"mcs -langversion:5 accepted C# 6: {snippet}"
    assert "error CS1644" in result.stdout + result.stderr, result.stdout + result.stderr


def test_mcs_without_langversion_accepts_the_same_snippet(tmp_path):
    """... and the snippets fail because of the language version, not because they are broken."""
    source = tmp_path / "Snippet.cs"
    source.write_text('class C { string M(int y) { return $"x{y}"; } }\n', encoding="utf-8")
    result = shim.mcs([source], tmp_path / "Snippet.dll", flags=["-noconfig", "-r:System.dll"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_only_native_methods_declares_pinvokes(compiled, checker):
    """The managed wrapper (Utf8, NativeSession) takes and returns .NET strings; only NativeMethods
    touches the ABI."""
    methods, _ = shim.reflect(checker, compiled)
    assert {m["type"] for m in methods} == {"MSCommerce.Native.NativeMethods"}
