"""Waiting for submissions and run events on a Redis Cluster, where one ``XREAD`` cannot
span the streams of many runs (each run's keys are in a slot of their own).

Whoever appends to a run's events stream on a cluster (a worker, a submitter asking
for a cancel) then appends the run's id to the wake stream (``Keys.wake``), which
shares the submissions stream's slot. A coordinator's wait is then:

1. the wake stream's last id and any new submissions (one trip, one node), then every
   followed run's stream without blocking (one pipelined trip per node); anything
   found is returned at once;
2. otherwise one blocking ``XREAD`` of the submissions and the wake stream from that
   id, and a read of the runs the notices name.

The wake stream's last id is read before the runs' streams, so an event written after
its run's read has its notice after that id, and the blocking read sees it: nothing
waits longer than it would on one Redis. A notice that never came (its writer died in
between) delays an event until the next wait, at most ``BLOCK_LIMIT_S`` later. No state
is kept between waits: several callers may share one store.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from .connect import REDIS_ERRORS, block_ms
from .keys import Keys

logger = logging.getLogger(__name__)

#: Notices kept in the wake stream (approximate trim); a waiter never needs old ones.
WAKE_MAXLEN = 10_000

#: A stream entry as redis-py returns it: (id, fields).
Entry = tuple[bytes, dict[bytes, bytes]]
#: What a wait finds: [(stream id, run id) submitted], {run id: [entry, ...]}.
Found = tuple[list[tuple[str, str]], dict[str, list[Entry]]]


def notify(client: Any, keys: Keys, run_id: str) -> None:
    """Tell the coordinators that run ``run_id``'s events stream grew.

    A failure is logged and swallowed: the event itself is stored, and the owner reads
    it at its next wait anyway (at most ``BLOCK_LIMIT_S`` later).
    """
    try:
        client.xadd(keys.wake(), {b"run": run_id}, maxlen=WAKE_MAXLEN, approximate=True)
    except REDIS_ERRORS:
        logger.warning(
            "run %s: could not wake its coordinator; it reads the event at its next wait",
            run_id,
            exc_info=True,
            extra={"run_id": run_id},
        )


def wait(
    client: Any,
    keys: Keys,
    submissions_after: str,
    cursors: Mapping[str, str],
    block_s: float,
    count: int,
) -> Found:
    """New submissions and events of the runs in ``cursors`` (run id -> last stream id
    seen), blocking up to ``block_s`` when there are none yet."""
    with client.pipeline(transaction=False) as pipe:  # one node: the submissions' slot
        pipe.xrevrange(keys.wake(), count=1)
        pipe.xread({keys.submissions(): submissions_after}, count=count)
        last, fresh = pipe.execute()
    wake_after = last[0][0] if last else b"0-0"
    submitted = _submitted(fresh)
    found = _read_runs(client, keys, cursors, cursors, count)
    if submitted or found or block_s <= 0:
        return submitted, found
    streams = {keys.submissions(): submissions_after, keys.wake(): wake_after}
    reply = client.xread(streams, count=count, block=block_ms(block_s))
    noted: set[str] = set()
    wake_key = keys.wake().encode()
    for stream, entries in reply or ():
        if stream == wake_key:
            noted.update(fields[b"run"].decode() for _id, fields in entries)
        else:
            submitted = _submitted([(stream, entries)])
    return submitted, _read_runs(client, keys, cursors, noted, count)


def _submitted(reply: Any) -> list[tuple[str, str]]:
    return [
        (entry_id.decode(), fields[b"run"].decode())
        for _stream, entries in reply or ()
        for entry_id, fields in entries
    ]


def _read_runs(
    client: Any, keys: Keys, cursors: Mapping[str, str], run_ids: Iterable[str], count: int
) -> dict[str, list[Entry]]:
    """New entries of each followed run of ``run_ids``, without blocking: one command
    per run (one slot each), pipelined."""
    wanted = sorted(run_id for run_id in set(run_ids) if run_id in cursors)
    if not wanted:
        return {}
    with client.pipeline(transaction=False) as pipe:
        for run_id in wanted:
            pipe.xread({keys.events(run_id): cursors[run_id]}, count=count)
        replies = pipe.execute()
    found: dict[str, list[Entry]] = {}
    for run_id, reply in zip(wanted, replies, strict=True):
        entries = [entry for _stream, stream_entries in reply or () for entry in stream_entries]
        if entries:
            found[run_id] = entries
    return found
