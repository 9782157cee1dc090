"""Finding runs: a short id resolved to one run, and the runs that match a filter.

The CLI, ``opgrid.get_run``/``opgrid.list_runs`` and the UI all find runs here, on
any ``RunLog``; records are read newest first, a page at a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from opgrid.errors import AmbiguousRunId
from opgrid.orchestrator.protocol.messages import RunRecord
from opgrid.orchestrator.protocol.status import RunStatus
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.base import RunLog
from opgrid.orchestrator.store.redis import RedisRunStore

#: A run id (or a prefix of one) is a uuid's characters.
_ID_CHARS = re.compile(r"^[0-9A-Za-z-]+$")
#: Matches listed when a short id is ambiguous.
SHOWN_MATCHES = 5
#: Records read per round trip while filtering.
PAGE = 200


@dataclass(frozen=True, slots=True)
class RunFilter:
    """Which runs to list: every condition given must hold."""

    job: str | None = None
    statuses: frozenset[RunStatus] = frozenset()
    tags: Mapping[str, str] = field(default_factory=dict)
    #: created at or after this time (epoch seconds)
    since: float | None = None

    def admits(self, record: RunRecord) -> bool:
        """Whether ``record`` passes the filter."""
        if self.job is not None and record.job_name != self.job:
            return False
        if self.statuses and record.status not in self.statuses:
            return False
        if any(str(record.tags.get(key)) != value for key, value in self.tags.items()):
            return False
        return self.since is None or record.created_at >= self.since


def resolve_run_id(store: RunLog, text: str) -> str:
    """The id of the one run whose id is ``text`` or starts with it.

    Raises:
        RunNotFound: no run matches.
        AmbiguousRunId: several runs match; the message lists some of them.
    """
    matches = store.find_run_ids(text, limit=SHOWN_MATCHES + 1) if _ID_CHARS.match(text) else []
    if text in matches:
        return text
    if not matches:
        return store.get_run(text).run_id  # raises RunNotFound, naming the namespace
    if len(matches) > 1:
        listed = ", ".join(matches[:SHOWN_MATCHES]) + (
            ", ..." if len(matches) > SHOWN_MATCHES else ""
        )
        raise AmbiguousRunId(f"{text!r} matches several runs: {listed}; give more of the id")
    return matches[0]


def find_runs(store: RunLog, where: RunFilter | None = None, limit: int = 20) -> list[RunRecord]:
    """The newest runs that pass ``where``, at most ``limit``."""
    where = where or RunFilter()
    found: list[RunRecord] = []
    for record in _newest_first(store):
        if where.since is not None and record.created_at < where.since:
            break  # newest first: every later one is older still
        if where.admits(record):
            found.append(record)
            if len(found) >= limit:
                break
    return found


def _newest_first(store: RunLog) -> Iterator[RunRecord]:
    """Every run, newest first, a page at a time (each once, though runs come and go)."""
    seen: set[str] = set()
    offset = 0
    while True:
        page = store.list_runs(PAGE, offset)
        for record in page:
            if record.run_id not in seen:
                seen.add(record.run_id)
                yield record
        if len(page) < PAGE:
            return
        offset += PAGE


def list_runs(
    job: str | None = None,
    status: str | RunStatus | list[str | RunStatus] | None = None,
    tags: Mapping[str, str] | None = None,
    limit: int = 20,
    settings: Settings | None = None,
) -> list[RunRecord]:
    """The cluster's newest runs of ``job`` with ``status`` and ``tags``, at most ``limit``.

    ``status`` is one status or several, by name (``"failure"``) or ``RunStatus``.
    """
    statuses = [] if status is None else [status] if isinstance(status, str | RunStatus) else status
    where = RunFilter(job, frozenset(RunStatus(s) for s in statuses), dict(tags or {}))
    store = RedisRunStore.from_settings(settings or Settings())
    try:
        return find_runs(store, where, limit)
    finally:
        store.client.close()


def record_json(record: RunRecord) -> dict[str, Any]:
    """A run's record as the stable JSON that ``--json`` prints."""
    return record.model_dump(mode="json", exclude={"schema_version", "reused"})
