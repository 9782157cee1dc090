"""The compact forms in which Redis keeps a run's events and its plan.

A run keeps its events and plan until its TTL, so their size is most of what a run
leaves in Redis (a 10,000-step fan-out: about 1,600 bytes per step with full JSON
events and a plain JSON plan). Both forms are lossless:

* an event is its JSON without the fields that hold their defaults and without its run
  id (the run's stream names it): ``{"kind":"STEP_SUCCESS","timestamp":...,"step_key":
  "inc_7"}``; loading puts the run id back. An event stored in full JSON (older runs)
  loads as it is;
* a plan is zlib-compressed JSON (a plan repeats its op, input and output names step
  after step: a tenth of its size or less). A plan stored as plain JSON loads too.

The claim script (``scripts.BEGIN``) builds a take-over's note from the compact start
event it is given; it relies on the form above (``"kind"`` first, ``"worker"`` a string).
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from opgrid.orchestrator.planning.plan import ExecutionPlan
from opgrid.orchestrator.protocol.events import RunEvent

#: zlib level of stored plans and archives: the fastest, since both are mostly repeated
#: names.
LEVEL = 1
#: zlib's window (2 ** 12 bytes) and memory level: what repeats in a plan or a log is
#: near (the names of the step before), and a compressor this size is set up in a few
#: microseconds where zlib's default one (32 KiB window, level 8 memory) takes about 60 on
#: a small machine, for a plan or a run's log compressed as small or smaller.
WINDOW_BITS = 12
MEM_LEVEL = 4
#: How an event that names its run starts: in full JSON (pydantic writes the fields in
#: order), or compact with its run id kept.
_NAMED = (b'{"schema_version":', b'{"run_id":')


def dump_event(event: RunEvent, run_id: str) -> str:
    """``event`` as the stream of run ``run_id`` keeps it."""
    if event.run_id != run_id:  # not this run's (never written so): its id is kept
        return event.model_dump_json(exclude_defaults=True)
    return event.model_dump_json(exclude_defaults=True, exclude={"run_id"})


def load_event(raw: bytes, run_id: str) -> RunEvent:
    """The event ``raw`` of run ``run_id``'s stream (compact or full JSON)."""
    if raw.startswith(_NAMED):
        return RunEvent.model_validate_json(raw)
    named = b'{"run_id":' + json.dumps(run_id).encode() + b"," + raw[1:]
    return RunEvent.model_validate_json(named)


def compressor() -> Any:
    """A zlib compressor for a plan or a run's log (``zlib.decompress`` reads what it
    writes)."""
    return zlib.compressobj(LEVEL, zlib.DEFLATED, WINDOW_BITS, MEM_LEVEL)


def dump_plan(plan: ExecutionPlan) -> bytes:
    """``plan`` as a run keeps it: compressed JSON."""
    packer = compressor()
    packed: bytes = packer.compress(plan.model_dump_json().encode()) + packer.flush()
    return packed


def load_plan(raw: bytes) -> ExecutionPlan:
    """A stored plan (compressed, or plain JSON from an older run)."""
    if raw[:1] != b"{":
        raw = zlib.decompress(raw)
    return ExecutionPlan.model_validate_json(raw)
