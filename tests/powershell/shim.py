"""Compiling and inspecting the module's C# shim exactly as the build does.

build.sh (and build.ps1 where Mono is present) compiles ps-module/MSCommerce/src/MSCommerce.Native.cs
with `mcs -noconfig -langversion:5 -target:library -r:System.dll -warnaserror+` into the module's
bin/MSCommerce.Native.dll; the module compiles the same file with Add-Type when that assembly is
missing. The source holds no library path: NativeMethods.Load(absolutePath) opens the library at
run time. test_shim.py checks that build.sh uses MCS_FLAGS.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

from conftest import MODULE_DIR, REPO

SOURCE = MODULE_DIR / "src" / "MSCommerce.Native.cs"
ASSEMBLY_NAME = "MSCommerce.Native.dll"
SHIPPED_ASSEMBLY = MODULE_DIR / "bin" / ASSEMBLY_NAME
BUILD_SH = REPO / "build.sh"
BUILD_PS1 = REPO / "build.ps1"
MCS_FLAGS = ["-noconfig", "-langversion:5", "-r:System.dll", "-warnaserror+"]
ABI_FUNCTIONS = {
    "msc_version", "msc_abi_version", "msc_session_new", "msc_session_free", "msc_connect",
    "msc_get", "msc_update", "msc_disconnect", "msc_string_free",
}
# The only libraries the shim imports from by name: the OS loaders. The MSCommerce library itself is
# opened by the path given to NativeMethods.Load.
LOADER_LIBRARIES = {
    "kernel32.dll": {"LoadLibraryExW", "GetProcAddress", "FreeLibrary"},
    "libdl.so.2": {"dlopen", "dlsym", "dlclose", "dlerror"},
    "libc.so.6": {"dlopen", "dlsym", "dlclose", "dlerror"},
    "libSystem.dylib": {"dlopen", "dlsym", "dlclose", "dlerror"},
}


def have_mono() -> bool:
    return shutil.which("mcs") is not None and shutil.which("mono") is not None


def mcs(sources: list[Path], out: Path, target: str = "library", references: list[Path] = (), flags=None) -> subprocess.CompletedProcess:
    command = ["mcs"] + (MCS_FLAGS if flags is None else flags) + [f"-target:{target}", f"-out:{out}"]
    command += [f"-r:{r}" for r in references]
    command += [str(s) for s in sources]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def compile_shim(directory: Path) -> Path:
    """bin/MSCommerce.Native.dll as build.sh makes it, in `directory`."""
    out = directory / ASSEMBLY_NAME
    result = mcs([SOURCE], out)
    if result.returncode != 0:
        raise AssertionError(f"mcs failed:\n{result.stdout}\n{result.stderr}")
    return out


def reflect(checker: Path, assembly: Path) -> tuple[list[dict], dict, list[dict]]:
    """(P/Invoke methods, string constants, delegate types) of a compiled assembly, read by ShimChecker."""
    result = subprocess.run(["mono", str(checker), str(assembly)], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise AssertionError(f"ShimChecker failed:\n{result.stdout}\n{result.stderr}")
    methods, constants, delegates = [], {}, []
    for line in result.stdout.splitlines():
        parts = line.split("\t")
        if parts[0] == "PINVOKE":
            methods.append({
                "type": parts[1], "method": parts[2], "entry": parts[3],
                "library": base64.b64decode(parts[4]).decode("utf-8") if parts[4] != "?" else None,
                "callingConvention": parts[5], "charSet": parts[6], "returnType": parts[7],
                "parameters": [p for p in parts[8].split(";") if p] if len(parts) > 8 else [],
            })
        elif parts[0] == "DELEGATE":
            delegates.append({
                "type": parts[1], "method": parts[2], "callingConvention": parts[3], "charSet": parts[4],
                "returnType": parts[5], "parameters": [p for p in parts[6].split(";") if p] if len(parts) > 6 else [],
            })
        elif parts[0] == "CONST":
            constants[f"{parts[1]}.{parts[2]}"] = base64.b64decode(parts[3]).decode("utf-8")
    return methods, constants, delegates


FORBIDDEN_MARSHAL_TYPES = ("System.String", "System.Text.StringBuilder", "System.Char")


def marshalling_violations(methods: list[dict], calling_convention: str = "Cdecl") -> list[str]:
    """Rules of testing.md: the given calling convention (Cdecl for the C ABI) everywhere, no
    string/StringBuilder/char in a signature. Works on PINVOKE and DELEGATE entries alike."""
    problems = []
    for m in methods:
        where = f"{m['type']}.{m['method']}"
        if m["callingConvention"] != calling_convention:
            problems.append(f"{where}: calling convention {m['callingConvention']}")
        for t in [m["returnType"]] + m["parameters"]:
            bare = t.replace("out ", "").rstrip("&").replace("[]", "")
            if bare in FORBIDDEN_MARSHAL_TYPES:
                problems.append(f"{where}: {t} in the signature")
    return problems
