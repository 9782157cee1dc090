"""The code locations a UI process serves, and their jobs.

A location is loaded from a file (``-f``) or a module (``-m``) exactly as the CLI
loads it, so its name is the one workers know it by. ``reload`` imports it again
(Dagster's "reload code location"). Dagster's client also asks for a repository
name: every location here holds one repository, ``__repository__``, as Dagster
names the repository of a ``Definitions`` object.
"""

from __future__ import annotations

import logging
import threading
import traceback
from dataclasses import dataclass

from .cluster import CodeLocation, InstigatorDef, JobDefinition, instigator_defs, load_code_location

logger = logging.getLogger(__name__)

#: The name of the one repository of each location.
REPOSITORY = "__repository__"


@dataclass(frozen=True, slots=True)
class LocationSource:
    """Where a location comes from: a file or a module."""

    file: str | None = None
    module: str | None = None

    @property
    def label(self) -> str:
        return self.file if self.file is not None else str(self.module)


@dataclass(frozen=True, slots=True)
class LoadProblem:
    """A location that failed to load: what was raised, with its stack."""

    label: str
    message: str
    stack: str


class Catalog:
    """Loaded locations by name; reloads swap them atomically."""

    def __init__(self, sources: list[LocationSource]) -> None:
        self.sources = sources
        self._lock = threading.Lock()
        self.locations: dict[str, CodeLocation] = {}
        self.problems: dict[str, LoadProblem] = {}
        for source in sources:
            self._load(source)

    def _load(self, source: LocationSource) -> None:
        try:
            location = load_code_location(file=source.file, module=source.module)
        except Exception as exc:  # user code: kept as a load problem, shown on the pages
            logger.error("cannot load code location %s", source.label, exc_info=True)
            problem = LoadProblem(source.label, f"{type(exc).__name__}: {exc}", _stack(exc))
            with self._lock:
                self.problems[source.label] = problem
                self.locations.pop(source.label, None)
            return
        with self._lock:
            self.locations[location.name] = location
            self.problems.pop(source.label, None)

    def source_named(self, name: str) -> LocationSource | None:
        return next((s for s in self.sources if s.label == name), None)

    def reload(self, name: str) -> bool:
        """Import location ``name`` again; False when no such location is served."""
        source = self.source_named(name)
        if source is None:
            return False
        self._load(source)
        return True

    def jobs(self) -> list[tuple[str, JobDefinition]]:
        """(location name, job) for every job, sorted by job name."""
        with self._lock:
            pairs = [
                (name, job) for name, loc in self.locations.items() for job in loc.jobs.values()
            ]
        return sorted(pairs, key=lambda pair: (pair[1].name, pair[0]))

    def instigators(self) -> list[InstigatorDef]:
        """The schedules and sensors of the loaded locations, by location."""
        with self._lock:
            locations = [self.locations[name] for name in sorted(self.locations)]
        return [d for location in locations for d in instigator_defs(location)]

    def find(self, job_name: str, location: str | None = None) -> tuple[str, JobDefinition] | None:
        """(location name, job) of ``job_name`` (in ``location`` when given), or None."""
        for name, job in self.jobs():
            if job.name == job_name and (location is None or name == location):
                return name, job
        return None


def _stack(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
