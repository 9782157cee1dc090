"""A finished run's event log, kept compressed: its stream entries move into one zlib
string (``keys.archive``) when the run ends, with their stream ids.

A run's events are most of what it leaves in Redis until its TTL (three or more per
step). Once the run has ended nobody appends to its log in bulk any more, so
``RedisRunStore.finish_run`` moves the entries into the archive: read in chunks, the
lines ``<stream id> TAB <event>`` compressed, then in one transaction the archive is set
and the stream trimmed up to the last id moved (``XTRIM MINID``). The stream itself stays,
empty, with the run's TTL: an entry written after that (a canceled step's last log
lines) goes there, and a reader sees the archive's entries, then the stream's. Stream ids
keep working as cursors: a reader ``after`` an id gets what followed it, from either.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

from .compact import compressor
from .keys import EVENT_FIELD, Keys

#: Stream entries read per round trip while archiving.
CHUNK = 10_000


def stream_id(entry_id: str) -> tuple[int, int]:
    """A stream id as numbers, for comparing (``"1700000000000-3"`` -> ``(1700000000000, 3)``)."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class RedisEventArchive:
    """Archiving a finished run's events and reading them back (mixed into ``RedisRunStore``)."""

    _r: Any
    keys: Keys
    run_ttl_ms: int

    def _archive_events(self, run_id: str) -> None:
        """Move the run's stream entries into its archive (once; a run archived already
        keeps its archive, and what came later stays in the stream)."""
        archive, events = self.keys.archive(run_id), self.keys.events(run_id)
        if self._r.exists(archive):
            return
        packer = compressor()
        parts: list[bytes] = []
        last: bytes | None = None
        start = "-"
        while True:
            entries = self._r.xrange(events, min=start, max="+", count=CHUNK)
            parts += _packed(packer, entries)
            if entries:
                last = entries[-1][0]
            if len(entries) < CHUNK or last is None:
                break
            start = f"({last.decode()}"
        if last is None:
            return
        with self._r.pipeline(transaction=True) as pipe:
            self._set_archive(pipe, run_id, [*parts, packer.flush()], last)
            pipe.execute()

    def _archive_entries(self, pipe: Any, run_id: str, entries: Sequence[Any]) -> None:
        """Queue on ``pipe`` the archive of these stream entries (all the run's, read at
        once) and the trim of its stream up to the last of them."""
        packer = compressor()
        self._set_archive(pipe, run_id, [*_packed(packer, entries), packer.flush()], entries[-1][0])

    def _set_archive(self, pipe: Any, run_id: str, parts: list[bytes], last: bytes) -> None:
        ms, seq = stream_id(last.decode())
        pipe.set(self.keys.archive(run_id), b"".join(parts), px=self.run_ttl_ms)
        pipe.xtrim(self.keys.events(run_id), minid=f"{ms}-{seq + 1}", approximate=False)

    def _archived(self, raw: bytes | None, after: str) -> list[tuple[str, bytes]]:
        """The (stream id, stored event) lines of an archive after stream id ``after``."""
        if raw is None:
            return []
        cut = stream_id(after)
        found = []
        for line in zlib.decompress(raw).splitlines():
            entry_id, _, event = line.partition(b"\t")
            key = entry_id.decode()
            if stream_id(key) > cut:
                found.append((key, event))
        return found

    def _read_raw(self, run_id: str, after: str) -> list[tuple[str, bytes]]:
        """Every stored event of the run after ``after``: archived ones, then the stream's
        (one transaction: an archiving in between would hide entries)."""
        with self._r.pipeline(transaction=True) as pipe:
            pipe.get(self.keys.archive(run_id))
            pipe.xrange(self.keys.events(run_id), min=f"({after}", max="+")
            raw, entries = pipe.execute()
        streamed = [(entry_id.decode(), _field(fields)) for entry_id, fields in entries]
        return self._archived(raw, after) + streamed

    def _ready(self, run_id: str, after: str) -> list[tuple[str, bytes]] | None:
        """What a follower ``after`` gets without waiting: the events after it when the
        run is archived or the stream has some, else None (one transaction)."""
        with self._r.pipeline(transaction=True) as pipe:
            pipe.exists(self.keys.archive(run_id))
            pipe.xrange(self.keys.events(run_id), min=f"({after}", max="+", count=1000)
            archived, entries = pipe.execute()
        if archived:
            return self._read_raw(run_id, after)
        if entries:
            return [(entry_id.decode(), _field(fields)) for entry_id, fields in entries]
        return None


def _packed(packer: Any, entries: Sequence[Any]) -> list[bytes]:
    """Stream entries as compressed ``<stream id> TAB <event>`` lines."""
    return [packer.compress(i + b"\t" + fields[EVENT_FIELD] + b"\n") for i, fields in entries]


def _field(fields: Any) -> bytes:
    """An entry's event: from the fields as a mapping, or as the flat list a Redis Cluster
    transaction returns them in (redis-py parses only the single-Redis reply)."""
    if isinstance(fields, dict):
        return bytes(fields[EVENT_FIELD])
    pairs = dict(zip(fields[::2], fields[1::2], strict=True))
    return bytes(pairs[EVENT_FIELD])
