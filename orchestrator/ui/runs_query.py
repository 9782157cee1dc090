"""Runs newest first, filtered and paginated on the server.

The store lists only the newest N runs, so filtering is done here on top of its
index (``Keys.runs_index``: run ids scored by creation time) and its run records
(``Keys.run``), read in batches through one pipeline per batch. A cheap test on the
raw JSON skips most records a filter rejects before they are parsed, and records of
finished runs (which never change) are read from Redis once per process. A run's job
and tags never change either, so a run still going whose copy lacks the job or a tag
key a filter asks for is skipped without reading it again.

Pages are keyset-paginated: the cursor names the last run shown (creation time and
id), so a page stays right while new runs arrive above it.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .cluster import ClusterHandle, RunRecord, redis_errors

#: Run ids read from the index per round trip.
BATCH = 2000
#: Most runs one page may hold.
MAX_PAGE = 500
#: Most index entries one query reads before it gives up looking for matches.
MAX_SCANNED = 100_000
#: Records of finished runs kept in this process (they never change once final).
CACHE_SIZE = 50_000
#: The byte strings that mark a record as final (its ``status`` field).
_FINAL_MARKS = (b'"status":"success"', b'"status":"failure"', b'"status":"canceled"')


@dataclass(frozen=True, slots=True)
class RunFilter:
    """Which runs to show; every condition given must hold."""

    job: str | None = None
    statuses: frozenset[str] = frozenset()
    tags: tuple[tuple[str, str], ...] = ()
    created_after: float | None = None
    created_before: float | None = None
    run_ids: frozenset[str] = frozenset()

    def needles(self) -> list[bytes]:
        """Byte strings a matching record's JSON must contain (a necessary condition)."""
        found = self.fixed_needles()
        if len(self.statuses) == 1:
            found.append(
                b'"status":' + json.dumps(next(iter(self.statuses)), ensure_ascii=False).encode()
            )
        return found

    def fixed_needles(self) -> list[bytes]:
        """The needles of what a run keeps for ever (its job and tag keys)."""
        found = []
        if self.job is not None:
            found.append(b'"job_name":' + json.dumps(self.job, ensure_ascii=False).encode())
        found += [json.dumps(key, ensure_ascii=False).encode() for key, _ in self.tags]
        return found

    def matches(self, record: RunRecord) -> bool:
        if self.job is not None and record.job_name != self.job:
            return False
        if self.statuses and record.status.value not in self.statuses:
            return False
        if self.run_ids and record.run_id not in self.run_ids:
            return False
        return all(str(record.tags.get(key)) == value for key, value in self.tags)


@dataclass(frozen=True, slots=True)
class RunPage:
    """One page of runs and the cursor of the next (None on the last page)."""

    runs: list[RunRecord]
    next_cursor: str | None
    scanned: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def encode_cursor(record: RunRecord) -> str:
    return f"{record.created_at!r}|{record.run_id}"


def _decode_cursor(cursor: str | None) -> tuple[float, str] | None:
    if not cursor:
        return None
    score, _, run_id = cursor.partition("|")
    try:
        return float(score), run_id
    except ValueError:
        return None


def list_runs(
    cluster: ClusterHandle, flt: RunFilter, limit: int = 50, cursor: str | None = None
) -> RunPage:
    """The runs ``flt`` accepts, newest first, after ``cursor``.

    Raises:
        StorageError: Redis failed.
    """
    with redis_errors("listing runs"):
        return _list_runs(cluster, flt, limit, cursor)


def _list_runs(cluster: ClusterHandle, flt: RunFilter, limit: int, cursor: str | None) -> RunPage:
    limit = max(1, min(limit, MAX_PAGE))
    if flt.run_ids:
        return _by_ids(cluster, flt, limit)
    found: list[RunRecord] = []
    scanned = 0
    needles = flt.needles()
    for _, raw in _index_entries(cluster, flt, _decode_cursor(cursor), limit + 1):
        scanned += 1
        if raw is None or not all(needle in raw for needle in needles):
            continue
        record = RunRecord.model_validate_json(raw)
        if flt.matches(record):
            found.append(record)
            if len(found) > limit:
                break
        if scanned >= MAX_SCANNED:
            break
    more = len(found) > limit
    page = found[:limit]
    return RunPage(page, encode_cursor(page[-1]) if more and page else None, scanned)


def count_runs(cluster: ClusterHandle, flt: RunFilter) -> int:
    """How many runs ``flt`` accepts (on every page together; at most ``MAX_SCANNED`` are
    looked at).

    A filter by creation time alone is counted by the index (``ZCOUNT``, no record read);
    others read the records the way ``list_runs`` does (finished ones from this
    process's copies).

    Raises:
        StorageError: Redis failed.
    """
    with redis_errors("counting runs"):
        if flt.run_ids:
            return len(_by_ids(cluster, flt, len(flt.run_ids)).runs)
        if flt.job is None and not flt.statuses and not flt.tags:
            top = flt.created_before if flt.created_before is not None else "+inf"
            bottom = flt.created_after if flt.created_after is not None else "-inf"
            return int(cluster.redis.zcount(cluster.keys.runs_index(), bottom, top))
        return _count_scanned(cluster, flt)


def _count_scanned(cluster: ClusterHandle, flt: RunFilter) -> int:
    needles = flt.needles()
    counted = scanned = 0
    for _, raw in _index_entries(cluster, flt, None, BATCH):
        scanned += 1
        if raw is not None and all(needle in raw for needle in needles):
            counted += flt.matches(RunRecord.model_validate_json(raw))
        if scanned >= MAX_SCANNED:
            break
    return counted


def _index_entries(
    cluster: ClusterHandle, flt: RunFilter, after: tuple[float, str] | None, first: int
) -> Iterator[tuple[str, bytes | None]]:
    """(run id, raw record) newest first, from the index, starting after ``after``.

    The first read asks for ``first`` entries, each next one for twice as many (up to
    ``BATCH``). Without a time filter the index is read by rank (the cursor's run found by
    ``ZREVRANK``), which costs Redis and the client least; with one, by score.
    """
    redis, index = cluster.redis, cluster.keys.runs_index()
    by_score = flt.created_after is not None or flt.created_before is not None
    offset, batch = 0, first
    top: Any = flt.created_before if flt.created_before is not None else "+inf"
    bottom: Any = flt.created_after if flt.created_after is not None else "-inf"
    if after is not None:
        rank = None if by_score else redis.zrevrank(index, after[1])
        if rank is not None:
            offset = rank + 1
        else:
            by_score, top = True, f"({after[0]!r}"
    while True:
        if by_score:
            members = redis.zrevrangebyscore(index, top, bottom, start=offset, num=batch)
        else:
            members = redis.zrevrange(index, offset, offset + batch - 1)
        if not members:
            return
        offset += len(members)
        ids = [member.decode() for member in members]
        yield from zip(ids, _records(cluster, ids, flt.fixed_needles()), strict=True)
        if len(members) < batch:
            return
        batch = min(BATCH, batch * 2)


class _SeenRecords:
    """Raw records, by namespace and run id, least recently used out, each with whether
    it is final.

    A finished run's record is never written again, so its copy is as good as a read; a
    run still going keeps its job and tags, so its copy still tells a filter of those
    that it cannot match. A run pruned meanwhile has left the index too, so its copy is
    never asked for.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._raw: OrderedDict[tuple[str, str], tuple[bytes, bool]] = OrderedDict()
        self._lock = threading.Lock()

    def get_many(self, namespace: str, run_ids: list[str]) -> list[tuple[bytes, bool] | None]:
        with self._lock:
            get = self._raw.get
            return [get((namespace, run_id)) for run_id in run_ids]

    def put(self, namespace: str, run_id: str, raw: bytes) -> None:
        final = any(mark in raw for mark in _FINAL_MARKS)
        with self._lock:
            self._raw[(namespace, run_id)] = (raw, final)
            while len(self._raw) > self.size:
                self._raw.popitem(last=False)


_seen = _SeenRecords(CACHE_SIZE)


def _copy(seen: tuple[bytes, bool] | None, fixed: list[bytes]) -> bytes | None:
    """A copy as good as a read: a final record, or one that cannot match ``fixed``."""
    if seen is None:
        return None
    raw, final = seen
    if final:
        return raw
    return None if all(needle in raw for needle in fixed) else raw


def _records(
    cluster: ClusterHandle, ids: list[str], fixed: list[bytes] | None = None
) -> list[bytes | None]:
    """The raw records of ``ids`` (None for a run that is gone): read once when final,
    not read again while a copy lacks one of the ``fixed`` needles (``fixed_needles``)."""
    namespace = cluster.keys.namespace
    fixed = fixed or []
    found = [_copy(seen, fixed) for seen in _seen.get_many(namespace, ids)]
    missing = [i for i, raw in enumerate(found) if raw is None]
    if missing:
        with cluster.redis.pipeline(transaction=False) as pipe:
            for i in missing:
                pipe.hget(cluster.keys.run(ids[i]), "record")
            for i, raw in zip(missing, pipe.execute(), strict=True):
                found[i] = raw
                if raw is not None:
                    _seen.put(namespace, ids[i], raw)
    return found


def _by_ids(cluster: ClusterHandle, flt: RunFilter, limit: int) -> RunPage:
    ids = sorted(flt.run_ids)[:limit]
    if not ids:
        return RunPage([], None, 0)
    with cluster.redis.pipeline(transaction=False) as pipe:
        for run_id in ids:
            pipe.hget(cluster.keys.run(run_id), "record")
        raws = pipe.execute()
    records = [RunRecord.model_validate_json(raw) for raw in raws if raw is not None]
    records = [r for r in records if flt.matches(r)]
    records.sort(key=lambda r: r.created_at, reverse=True)
    return RunPage(records, None, len(ids))
