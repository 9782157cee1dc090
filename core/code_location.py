"""Loading a code location: the jobs a Python file or module defines.

A code location is found in a file or module as, in this order of preference:
a ``Definitions`` object, a ``@repository``, or the jobs at module level.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import DagsterInvariantViolationError
from .job import JobDefinition
from .repository import Definitions, RepositoryDefinition


@dataclass(frozen=True, slots=True)
class CodeLocation:
    """The jobs of one file or module, by name."""

    name: str
    jobs: dict[str, JobDefinition]

    def get_job(self, name: str) -> JobDefinition:
        if name not in self.jobs:
            raise DagsterInvariantViolationError(
                f"code location {self.name!r} has no job {name!r} "
                f"(jobs: {', '.join(sorted(self.jobs)) or 'none'})"
            )
        return self.jobs[name]


def load_code_location(file: str | None = None, module: str | None = None) -> CodeLocation:
    """Import a file (``-f``) or module (``-m``) and collect its jobs."""
    if (file is None) == (module is None):
        raise DagsterInvariantViolationError("give exactly one of a file or a module")
    if file is not None:
        path = Path(file).resolve()
        if not path.is_file():
            raise DagsterInvariantViolationError(f"code location file {file!r} does not exist")
        name = f"opgrid_location_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise DagsterInvariantViolationError(f"cannot import {file!r} as Python")
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[name] = loaded
        _on_path(str(path.parent))  # so the file can import its neighbours
        spec.loader.exec_module(loaded)
        label = str(file)
    else:
        assert module is not None
        _on_path(os.getcwd())  # as ``python -m`` does: modules under the working directory
        loaded = importlib.import_module(module)
        label = module
    return CodeLocation(label, _jobs_of(vars(loaded), label))


def _on_path(folder: str) -> None:
    if folder not in sys.path:
        sys.path.insert(0, folder)


def _jobs_of(namespace: dict[str, object], label: str) -> dict[str, JobDefinition]:
    values = list(namespace.values())
    for value in values:
        if isinstance(value, Definitions):
            return {job.name: job for job in value.get_all_job_defs()}
    for value in values:
        if isinstance(value, RepositoryDefinition):
            return {job.name: job for job in value.get_all_jobs()}
    jobs = {value.name: value for value in values if isinstance(value, JobDefinition)}
    if not jobs:
        raise DagsterInvariantViolationError(
            f"{label} defines no Definitions, @repository or job at module level"
        )
    return jobs
