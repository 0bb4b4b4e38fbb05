"""The module's C# shim (ps-module/MSCommerce/src/MSCommerce.Native.cs), compiled as build.sh compiles
it into the module's bin/MSCommerce.Native.dll: Mono's mcs as C# 5 (what Windows PowerShell 5.1's
Add-Type compiles, the fallback of a source checkout without the assembly), then checked by
reflection and by text for the marshalling rules of shared/spec/testing.md. The shim holds no
library path: it opens the library given to NativeMethods.Load and calls the C ABI through Cdecl
delegates; its only imports are the OS loaders'."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess

import pytest

import shim
from conftest import HERE, MODULE_DIR

pytestmark = pytest.mark.skipif(not shim.have_mono(), reason="Mono (mcs, mono) not installed: run .ci/install-powershell-deps.sh")


@pytest.fixture(scope="module")
def checker(tmp_path_factory):
    directory = tmp_path_factory.mktemp("checker")
    out = directory / "ShimChecker.exe"
    result = shim.mcs([HERE / "mono" / "ShimChecker.cs"], out, target="exe", flags=["-r:System.dll"])
    assert result.returncode == 0, result.stdout + result.stderr
    return out


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    return shim.compile_shim(tmp_path_factory.mktemp("shim"))


@pytest.fixture(scope="module")
def reflected(compiled, checker):
    return shim.reflect(checker, compiled)


def code_only(source: str) -> str:
    """C# source without comments (for text checks)."""
    source = re.sub(r"/\*.*?\*/", "", source, flags=re.S)
    source = re.sub(r"//[^\n]*", "", source)
    return source


def test_shim_compiles_as_csharp5_with_warnings_as_errors(compiled):
    assert compiled.is_file()


def test_no_library_path_is_compiled_in(reflected):
    """One assembly for every install: no string constant or import names the MSCommerce library."""
    methods, constants, _ = reflected
    for name, value in constants.items():
        assert not re.search(r"mscommerce\.(dll|so|dylib)", value, re.I), f"{name} = {value!r} is a library path"
    assert {m["library"] for m in methods} <= set(shim.LOADER_LIBRARIES), {m["library"] for m in methods}
    source = shim.SOURCE.read_text(encoding="utf-8")
    assert "__MSCOMMERCE_LIBRARY_PATH__" not in source


def test_reflection_abi_delegates(reflected):
    """The C ABI is called through one delegate type per export, named as the export, all Cdecl,
    with byte[] in and IntPtr out (no string, StringBuilder or char)."""
    _, _, delegates = reflected
    abi = [d for d in delegates if d["type"].startswith("MSCommerce.Native.NativeMethods+Exports+")]
    assert {d["method"] for d in abi} == shim.ABI_FUNCTIONS, "one delegate per C ABI function"
    assert len(abi) == len(shim.ABI_FUNCTIONS)
    assert shim.marshalling_violations(abi) == []
    assert all(d["charSet"] != "Auto" and d["charSet"] != "Unicode" for d in abi)
    by_name = {d["method"]: d for d in abi}
    assert by_name["msc_session_new"]["parameters"] == ["System.Byte[]", "out System.IntPtr&", "out System.IntPtr&"]
    for name in ("msc_connect", "msc_get", "msc_update"):
        assert by_name[name]["parameters"] == ["System.IntPtr", "System.Byte[]", "out System.IntPtr&"]
        assert by_name[name]["returnType"] == "System.Int32"
    assert by_name["msc_version"]["returnType"] == "System.IntPtr"
    assert by_name["msc_abi_version"]["returnType"] == "System.Int32"
    assert by_name["msc_string_free"]["parameters"] == ["System.IntPtr"]
    assert by_name["msc_session_free"]["parameters"] == ["System.IntPtr"]
    assert by_name["msc_disconnect"]["parameters"] == ["System.IntPtr"]
    others = [d["type"] for d in delegates if d not in abi]
    assert others == [], f"delegate types outside NativeMethods.Exports: {others}"


def test_reflection_loader_imports(reflected):
    """The only P/Invokes are the OS loaders': kernel32 (StdCall, WINAPI on x86) on Windows, dlopen
    and friends (Cdecl) from libdl.so.2, libc.so.6 or libSystem.dylib; paths and names go in as byte[]."""
    methods, _, _ = reflected
    by_library = {}
    for m in methods:
        by_library.setdefault(m["library"], set()).add(m["entry"])
    assert by_library == shim.LOADER_LIBRARIES
    kernel32 = [m for m in methods if m["library"] == "kernel32.dll"]
    dl = [m for m in methods if m["library"] != "kernel32.dll"]
    assert shim.marshalling_violations(kernel32, "StdCall") == []
    assert shim.marshalling_violations(dl) == []
    by_entry = {(m["library"], m["entry"]): m for m in methods}
    assert by_entry[("kernel32.dll", "LoadLibraryExW")]["parameters"] == ["System.Byte[]", "System.IntPtr", "System.UInt32"]
    assert by_entry[("kernel32.dll", "GetProcAddress")]["parameters"] == ["System.IntPtr", "System.Byte[]"]
    for library in ("libdl.so.2", "libc.so.6", "libSystem.dylib"):
        assert by_entry[(library, "dlopen")]["parameters"] == ["System.Byte[]", "System.Int32"]
        assert by_entry[(library, "dlsym")]["parameters"] == ["System.IntPtr", "System.Byte[]"]
        assert by_entry[(library, "dlerror")]["returnType"] == "System.IntPtr"
    assert all(m["type"].startswith("MSCommerce.Native.NativeMethods+") for m in methods)


def test_reflection_check_catches_bad_signatures(tmp_path, checker):
    """The checker is real: string/StringBuilder/char parameters and a non-Cdecl import or delegate are flagged."""
    bad = tmp_path / "Bad.cs"
    bad.write_text(
        "using System; using System.Runtime.InteropServices; using System.Text;\n"
        "public static class Bad {\n"
        "  [DllImport(\"/x/libmscommerce.so\")] public static extern int a(string s);\n"
        "  [DllImport(\"/x/libmscommerce.so\", CallingConvention = CallingConvention.Cdecl)] public static extern string b(IntPtr p);\n"
        "  [DllImport(\"/x/libmscommerce.so\", CallingConvention = CallingConvention.Cdecl)] public static extern void c(StringBuilder s, char ch);\n"
        "  [DllImport(\"/x/libmscommerce.so\", CallingConvention = CallingConvention.Cdecl)] public static extern void d(out string s);\n"
        "  [UnmanagedFunctionPointer(CallingConvention.StdCall)] public delegate int e(string s);\n"
        "  public delegate void f(IntPtr p);\n"
        "  [UnmanagedFunctionPointer(CallingConvention.Cdecl)] public delegate void g(StringBuilder s, out string t);\n"
        "}\n",
        encoding="utf-8",
    )
    out = tmp_path / "Bad.dll"
    result = shim.mcs([bad], out)
    assert result.returncode == 0, result.stdout + result.stderr
    methods, _, delegates = shim.reflect(checker, out)
    problems = shim.marshalling_violations(methods)
    assert any("a: calling convention" in p for p in problems)
    assert any("a: System.String" in p for p in problems)
    assert any("b: System.String" in p for p in problems)
    assert any("c: System.Text.StringBuilder" in p for p in problems)
    assert any("c: System.Char" in p for p in problems)
    assert any("d: out System.String&" in p for p in problems)
    problems = shim.marshalling_violations(delegates)
    assert any("e: calling convention StdCall" in p for p in problems)
    assert any("e: System.String" in p for p in problems)
    assert any("f: calling convention NONE" in p for p in problems), "a delegate without [UnmanagedFunctionPointer] is flagged"
    assert any("g: System.Text.StringBuilder" in p for p in problems)
    assert any("g: out System.String&" in p for p in problems)


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


def test_text_rules_of_the_source():
    code = code_only(shim.SOURCE.read_text(encoding="utf-8"))
    found = [f"{why}: {pattern}" for pattern, why in FORBIDDEN_TEXT.items() if re.search(pattern, code)]
    assert not found, found
    pointers = re.findall(r"\[UnmanagedFunctionPointer\(([^\]]*)\)\]\s*public delegate \w+ (\w+)\(", code)
    assert {name for _, name in pointers} == shim.ABI_FUNCTIONS
    assert all(arguments == "CallingConvention.Cdecl" for arguments, _ in pointers), pointers
    imports = re.findall(r"\[DllImport\(\"([^\"]*)\"", code)
    assert set(imports) == set(shim.LOADER_LIBRARIES), "DllImport names only the OS loaders"
    assert "Marshal.GetDelegateForFunctionPointer" in code
    assert "Marshal.ReadByte" in code and "Marshal.Copy" in code and "Encoding.UTF8.GetString" in code
    assert re.search(r"finally\s*\{\s*NativeMethods\.msc_string_free\(", code), "answers are freed in finally"
    for api in ("NativeLibrary", "RuntimeInformation", "GetDelegateForFunctionPointer<"):
        assert api not in code, f"{api} is missing on .NET Framework 4.5"


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


def test_only_native_methods_touches_native_code(reflected):
    """The managed wrapper (Utf8, NativeSession) takes and returns .NET strings; only NativeMethods
    (its loader imports and its Exports delegates) touches native code."""
    methods, _, delegates = reflected
    assert {m["type"].split("+")[0] for m in methods} == {"MSCommerce.Native.NativeMethods"}
    assert {d["type"].split("+")[0] for d in delegates} == {"MSCommerce.Native.NativeMethods"}


def test_module_loads_the_assembly_else_compiles_the_source():
    """Native.ps1 loads bin/MSCommerce.Native.dll, else compiles src/MSCommerce.Native.cs with
    Add-Type (saying so in a Verbose line), then NativeMethods.Load(absolute path), once per process."""
    native = (MODULE_DIR / "Private" / "Native.ps1").read_text(encoding="utf-8")
    assert "'bin', 'MSCommerce.Native.dll'" in native
    assert "'src', 'MSCommerce.Native.cs'" in native
    assert "[System.Reflection.Assembly]::LoadFrom(" in native
    assert "Add-Type -TypeDefinition $source" in native
    assert re.search(r"Write-Verbose \(\"MSCommerce: compiled the C# shim", native)
    assert "$nativeMethods::Load($LibraryPath)" in native
    assert "'MSCommerce.Native.NativeMethods' -as [type]" in native
    assert "Write-Warning" in native and "already loaded the native library" in native


def build_sh_mcs_flags() -> list[str]:
    text = shim.BUILD_SH.read_text(encoding="utf-8")
    match = re.search(r"^MCS_FLAGS=\(([^)]*)\)", text, re.M)
    assert match, "build.sh defines MCS_FLAGS=(...)"
    return shlex.split(match.group(1))


def test_build_scripts_compile_the_shim_as_the_tests_do():
    """build.sh and build.ps1 compile the same source with the flags these tests use."""
    assert sorted(build_sh_mcs_flags()) == sorted(shim.MCS_FLAGS + ["-target:library"])
    build_sh = shim.BUILD_SH.read_text(encoding="utf-8")
    assert "src/MSCommerce.Native.cs" in build_sh and "bin/MSCommerce.Native.dll" in build_sh
    build_ps1 = shim.BUILD_PS1.read_text(encoding="utf-8")
    for flag in shim.MCS_FLAGS + ["-target:library"]:
        assert f"'{flag}'" in build_ps1, flag
    assert "'MSCommerce.Native.cs'" in build_ps1 and "'MSCommerce.Native.dll'" in build_ps1
    assert "-OutputAssembly" in build_ps1 and "csc.exe" in build_ps1


def test_build_sh_shim_only_builds_the_assembly(tmp_path, checker):
    """`build.sh --shim-only` writes bin/MSCommerce.Native.dll of the module it belongs to (run on a
    copy, so the working tree's module is left alone)."""
    root = tmp_path / "checkout"
    (root / "ps-module").mkdir(parents=True)
    shutil.copy2(shim.BUILD_SH, root / "build.sh")
    shutil.copytree(MODULE_DIR / "src", root / "ps-module" / "MSCommerce" / "src")
    result = subprocess.run(["bash", str(root / "build.sh"), "--shim-only"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    built = root / "ps-module" / "MSCommerce" / "bin" / shim.ASSEMBLY_NAME
    assert built.is_file(), result.stdout + result.stderr
    _, _, delegates = shim.reflect(checker, built)
    assert {d["method"] for d in delegates} == shim.ABI_FUNCTIONS
