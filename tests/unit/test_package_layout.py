"""The package layout holds: every module imports on its own, every package ships in the
wheel, in-process runs load no infrastructure, and no module grows past its size."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
#: source folder -> the import name it installs as
SOURCES = {"core": "opgrid", "orchestrator": "opgrid.orchestrator", "workers": "opgrid.workers"}
#: STYLE.md: split anything over this...
MAX_LINES = 600
#: ...and keep all but a couple under this.
LONG_LINES = 450
MAX_LONG_MODULES = 2


def _modules() -> list[str]:
    names = []
    for folder, package in SOURCES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            names.append(".".join([package, *parts]))
    return names


def _packages() -> set[str]:
    found = set()
    for folder, package in SOURCES.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join([package, *parts]))
    return found


#: Imports each module named on its command line first, in a process of its own: one
#: interpreter loads the third-party libraries once (never opgrid), then forks a child
#: per module, which imports that module alone and reports the last line of any error.
_FORK_EACH = """
import importlib, os, sys, traceback
for lib in ("pydantic", "pydantic_settings", "click", "redis", "kombu", "celery", "rich",
            "croniter", "starlette", "uvicorn", "strawberry", "prometheus_client", "yaml"):
    try:
        importlib.import_module(lib)
    except ImportError:
        pass
assert not [m for m in sys.modules if m.split(".")[0] == "opgrid"], "opgrid loaded early"
running = {}
def reap():
    child, status = os.wait()
    module, read = running.pop(child)
    with os.fdopen(read, "rb") as pipe:
        error = pipe.read().decode()
    if status:
        print(f"{module}\t{error or status}")
for module in sys.argv[1:]:
    if len(running) >= 4:
        reap()
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read)
        try:
            importlib.import_module(module)
            code = 0
        except BaseException:
            os.write(write, traceback.format_exc().strip().splitlines()[-1].encode())
            code = 1
        os._exit(code)
    os.close(write)
    running[child] = (module, read)
while running:
    reap()
"""


@pytest.mark.timeout(240)  # a child process per module, four at a time
def test_every_module_imports_on_its_own_in_a_fresh_interpreter() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _FORK_EACH, *_modules()], capture_output=True, text=True, cwd="/"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == []


def test_every_package_folder_is_in_the_wheel_package_list() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    assert listed == _packages()


@pytest.mark.parametrize("folder", ["orchestrator"])
def test_every_role_package_says_what_others_may_use(folder: str) -> None:
    for init in sorted((ROOT / folder).glob("*/__init__.py")):
        text = init.read_text()
        assert text.startswith('"""'), f"{init.relative_to(ROOT)} has no docstring"
        assert "__all__" in text or init.parent.name == "cli", (
            f"{init.relative_to(ROOT)} lists nothing for other packages"
        )


def test_running_a_job_in_process_loads_neither_redis_nor_celery() -> None:
    probe = (
        "import sys, opgrid\n"
        "@opgrid.op\ndef one(): return 1\n"
        "@opgrid.job\ndef j(): one()\n"
        "assert j.execute_in_process().output_for_node('one') == 1\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'redis', 'celery', 'kombu'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_no_source_module_is_over_its_size() -> None:
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines())
        for folder in SOURCES
        for path in (ROOT / folder).rglob("*.py")
    }
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
    long = sorted(name for name, n in sizes.items() if n > LONG_LINES)
    assert len(long) <= MAX_LONG_MODULES, long
