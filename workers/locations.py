"""The code locations a worker serves: where it finds a job by name.

A worker only ever runs jobs from the locations it was started with (files or
modules given on its command line or in ``OPGRID_LOCATIONS``), plus jobs
registered in-process (a coordinator or test running workers in its own
process). A name in a message is looked up here; it is never imported.
"""

from __future__ import annotations

import threading
from pathlib import Path

from opgrid.code_location import CodeLocation, load_code_location
from opgrid.job import JobDefinition

#: The location name of jobs registered in-process.
LOCAL = "__local__"


class LocationRegistry:
    """Code locations by name."""

    def __init__(self) -> None:
        self._locations: dict[str, CodeLocation] = {}
        self._lock = threading.Lock()

    def load(self, spec: str) -> CodeLocation:
        """Load a file (``*.py`` or an existing path) or a module, once."""
        if spec in self._locations:
            return self._locations[spec]
        is_file = spec.endswith(".py") or Path(spec).is_file()
        location = load_code_location(
            file=spec if is_file else None, module=None if is_file else spec
        )
        with self._lock:
            self._locations[spec] = location
        return location

    def register(self, job: JobDefinition, location: str = LOCAL) -> None:
        """Make ``job`` runnable here under ``location`` (in-process workers)."""
        with self._lock:
            current = self._locations.get(location)
            jobs = dict(current.jobs) if current else {}
            jobs[job.name] = job
            self._locations[location] = CodeLocation(location, jobs)

    def find(self, location: str | None, job_name: str) -> JobDefinition | None:
        """The job, from the named location or (without a name) any that has it."""
        if location is not None:
            found = self._locations.get(location)
            if found is not None and job_name in found.jobs:
                return found.jobs[job_name]
        for candidate in self._locations.values():
            if job_name in candidate.jobs and (location is None or candidate.name == LOCAL):
                return candidate.jobs[job_name]
        return None

    def missing(self, location: str | None, job_name: str) -> str:
        """Why a request for ``job_name`` (from ``location``) cannot run here."""
        where = f" in code location {location!r}" if location else ""
        return f"this worker has no job {job_name!r}{where} (it serves: {self.describe()})"

    def describe(self) -> str:
        return (
            ", ".join(
                f"{name} ({', '.join(sorted(loc.jobs))})" for name, loc in self._locations.items()
            )
            or "none"
        )
