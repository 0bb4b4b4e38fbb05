"""Shared paths and fixtures of the PowerShell module's tests (run: python3 -m pytest tests/powershell)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

REPO = HERE.parent.parent
MODULE_DIR = REPO / "ps-module" / "MSCommerce"
GOLDEN = HERE / "surface.golden.json"


def shared_dir() -> Path | None:
    """shared/ (the specs and seed articles): $MSCOMMERCE_SHARED_DIR, else beside the repository."""
    candidates = []
    if os.environ.get("MSCOMMERCE_SHARED_DIR"):
        candidates.append(Path(os.environ["MSCOMMERCE_SHARED_DIR"]))
    candidates += [REPO.parent / "shared", REPO / "shared"]
    for candidate in candidates:
        if (candidate / "seeds").is_dir():
            return candidate
    return None


def module_script_files() -> list[Path]:
    return sorted(p for p in MODULE_DIR.rglob("*") if p.suffix.lower() in (".ps1", ".psm1", ".psd1"))


@pytest.fixture(scope="session")
def golden() -> dict:
    return json.loads(GOLDEN.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def module_functions():
    """name -> psast.FunctionInfo for every function defined in the module's scripts."""
    import psast

    found = {}
    for path in module_script_files():
        if path.suffix.lower() == ".psd1":
            continue
        for info in psast.functions_in(path.read_bytes()):
            assert info.name not in found, f"function {info.name} defined twice"
            info.path = path
            found[info.name] = info
    return found


@pytest.fixture(scope="session")
def manifest() -> dict:
    import psast

    return psast.read_psd1((MODULE_DIR / "MSCommerce.psd1").read_bytes())
