"""The scheduling package imports only the definitions API, the standard library and
pydantic: no Redis, Celery, clock or logging, and no other part of the orchestrator."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "orchestrator" / "scheduling"
ALLOWED_THIRD_PARTY = {"pydantic"}
BANNED_STDLIB = {"time", "logging", "threading", "asyncio", "socket"}


def _imports(path: Path) -> list[tuple[str, int]]:
    """(module, level) of every import in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", node.level))
    return found


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_a_scheduling_module_imports_only_core_stdlib_and_pydantic(path):
    for module, level in _imports(path):
        top = module.split(".")[0]
        if level > 0:  # within the package
            continue
        if top == "opgrid":
            assert not module.startswith(("opgrid.orchestrator", "opgrid.workers")), module
        elif top in sys.stdlib_module_names:
            assert top not in BANNED_STDLIB, module
        else:
            assert top in ALLOWED_THIRD_PARTY | {"__future__"}, module


def test_datetime_now_is_never_called():
    for path in PACKAGE.glob("*.py"):
        assert ".now(" not in path.read_text(), path.name
