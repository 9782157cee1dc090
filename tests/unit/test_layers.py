"""The layering rules of STYLE.md §1 hold, and their contracts cover every core module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]


def test_the_core_contract_lists_every_core_module():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contract = config["tool"]["importlinter"]["contracts"][0]
    listed = set(contract["source_modules"])
    modules = {
        f"opgrid.{path.stem}" for path in (ROOT / "core").glob("*.py") if path.stem != "__init__"
    }
    packages = {f"opgrid.{path.parent.name}" for path in (ROOT / "core").glob("*/__init__.py")}
    assert modules | packages == listed


def test_importing_opgrid_loads_no_infrastructure():
    probe = (
        "import sys, opgrid; "
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('redis', 'celery', 'click')"
        " or m.startswith(('opgrid.orchestrator', 'opgrid.workers'))]; "
        "print(loaded)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
