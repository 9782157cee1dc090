"""The ``opgrid.tick`` task: what the scheduler leader sends to a worker of a code location.

Identifiers and the tick's inputs only (code location, kind, name, tick id, and the
``TickRequest``: scheduled time, cursor, last run key, run status changes), as JSON,
signed with the cluster's secret by the same HMAC-SHA256 as step requests
(``protocol.signing``; this package stays pure, so it calls ``hmac`` itself), so a
message that anyone else put on the broker is refused. Also the deterministic ids of
the runs a tick or a backfill launches: the same tick (or partition) always means the
same run id, so launching it twice cannot make two runs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .evaluation import InstigatorType, TickRequest

#: The name of the Celery task that evaluates one tick (workers register it).
EVALUATE_TICK = "opgrid.tick"
#: Domain prefix of a tick task's signed text, so it can pass for nothing else.
TICK_DOMAIN = b"opgrid.tick\x00"
#: Longest tick id, and longest code location, a tick task may carry.
MAX_ID_CHARS = 256
MAX_STEP_KEY_CHARS = 4096
#: The namespace of the run ids of ticks and backfills (uuid5).
_RUN_IDS = uuid.UUID("6f1d3c52-7a0e-4c1b-9f64-2b8f3e0a9d11")


def origin_of(kind: InstigatorType, name: str) -> str:
    """The id of a schedule or sensor in a namespace: ``schedule:<name>``, ``sensor:<name>``."""
    return f"{kind.value}:{name}"


class TickTask(BaseModel):
    """The kwargs of one ``opgrid.tick`` task."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    tick_id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    location: str = Field(min_length=1, max_length=MAX_STEP_KEY_CHARS)
    request: TickRequest
    #: hex HMAC-SHA256 of the fields above (``sign_tick``)
    signature: str = Field(default="", max_length=128)

    @property
    def origin(self) -> str:
        return origin_of(self.request.instigator_type, self.request.name)


def _text(task: TickTask) -> bytes:
    body = task.model_dump(mode="json", exclude={"signature"})
    return TICK_DOMAIN + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def sign_tick(secret: bytes, task: TickTask) -> TickTask:
    """``task`` with its ``signature`` set."""
    digest = hmac.digest(secret, _text(task), hashlib.sha256)
    return task.model_copy(update={"signature": digest.hex()})


def admit_tick(secret: bytes, fields: dict[str, Any]) -> TickTask | str:
    """The tick task ``fields`` describe if it is valid and signed with ``secret``; else
    one line saying what is wrong (never the secret)."""
    try:
        task = TickTask.model_validate(fields)
    except ValidationError as exc:
        return f"not a valid tick task ({exc.error_count()} problem(s))"
    try:
        given = bytes.fromhex(task.signature)
    except ValueError:
        return "malformed signature (not hex)"
    expected = hmac.digest(secret, _text(task), hashlib.sha256)
    if not task.signature or not hmac.compare_digest(given, expected):
        return f"bad or missing signature on the tick {task.tick_id!r} of {task.origin!r}"
    return task


def tick_run_id(namespace: str, origin: str, tick_id: str, index: int) -> str:
    """The run id of the ``index``-th run a tick launches."""
    return str(uuid.uuid5(_RUN_IDS, f"{namespace}\x00{origin}\x00{tick_id}\x00{index}"))


def backfill_run_id(namespace: str, backfill_id: str, partition_key: str) -> str:
    """The run id of one partition of a backfill."""
    return str(uuid.uuid5(_RUN_IDS, f"{namespace}\x00backfill\x00{backfill_id}\x00{partition_key}"))
