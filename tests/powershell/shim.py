"""Generating and compiling the module's C# shim exactly as the module does.

The module (ps-module/MSCommerce/Private/Native.ps1, Get-MSCommerceShimSource) reads
MSCommerce.Native.cs.template and replaces its one placeholder with the library's absolute path,
each backslash doubled and each double quote escaped with a backslash. render() applies the same
rule; test_shim.py checks that Native.ps1 still says so.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

from conftest import MODULE_DIR

TEMPLATE = MODULE_DIR / "MSCommerce.Native.cs.template"
PLACEHOLDER = "__MSCOMMERCE_LIBRARY_PATH__"
MCS_FLAGS = ["-noconfig", "-langversion:5", "-r:System.dll", "-warnaserror+"]
ABI_FUNCTIONS = {
    "msc_version", "msc_abi_version", "msc_session_new", "msc_session_free", "msc_connect",
    "msc_get", "msc_update", "msc_disconnect", "msc_string_free",
}


def render(library_path: str) -> str:
    template = TEMPLATE.read_text(encoding="utf-8")
    escaped = library_path.replace("\\", "\\\\").replace('"', '\\"')
    return template.replace(PLACEHOLDER, escaped)


def have_mono() -> bool:
    return shutil.which("mcs") is not None and shutil.which("mono") is not None


def mcs(sources: list[Path], out: Path, target: str = "library", references: list[Path] = (), flags=None) -> subprocess.CompletedProcess:
    command = ["mcs"] + (MCS_FLAGS if flags is None else flags) + [f"-target:{target}", f"-out:{out}"]
    command += [f"-r:{r}" for r in references]
    command += [str(s) for s in sources]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def compile_shim(directory: Path, library_path: str) -> Path:
    source = directory / "MSCommerce.Native.cs"
    source.write_text(render(library_path), encoding="utf-8")
    out = directory / "MSCommerce.Native.dll"
    result = mcs([source], out)
    if result.returncode != 0:
        raise AssertionError(f"mcs failed:\n{result.stdout}\n{result.stderr}")
    return out


def reflect(checker: Path, assembly: Path) -> tuple[list[dict], dict]:
    """(P/Invoke methods, string constants) of a compiled assembly, read by ShimChecker."""
    result = subprocess.run(["mono", str(checker), str(assembly)], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise AssertionError(f"ShimChecker failed:\n{result.stdout}\n{result.stderr}")
    methods, constants = [], {}
    for line in result.stdout.splitlines():
        parts = line.split("\t")
        if parts[0] == "PINVOKE":
            methods.append({
                "type": parts[1], "method": parts[2], "entry": parts[3],
                "library": base64.b64decode(parts[4]).decode("utf-8") if parts[4] != "?" else None,
                "callingConvention": parts[5], "charSet": parts[6], "returnType": parts[7],
                "parameters": [p for p in parts[8].split(";") if p] if len(parts) > 8 else [],
            })
        elif parts[0] == "CONST":
            constants[f"{parts[1]}.{parts[2]}"] = base64.b64decode(parts[3]).decode("utf-8")
    return methods, constants


FORBIDDEN_MARSHAL_TYPES = ("System.String", "System.Text.StringBuilder", "System.Char")


def marshalling_violations(methods: list[dict]) -> list[str]:
    """Rules of testing.md: Cdecl everywhere, no string/StringBuilder/char in a signature."""
    problems = []
    for m in methods:
        where = f"{m['type']}.{m['method']}"
        if m["callingConvention"] != "Cdecl":
            problems.append(f"{where}: calling convention {m['callingConvention']}")
        for t in [m["returnType"]] + m["parameters"]:
            bare = t.replace("out ", "").rstrip("&").replace("[]", "")
            if bare in FORBIDDEN_MARSHAL_TYPES:
                problems.append(f"{where}: {t} in the signature")
    return problems
