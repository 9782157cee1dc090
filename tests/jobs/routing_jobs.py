"""A code location for the routing test: one step on the default queue, one on another."""

from __future__ import annotations

from opgrid import job, op

#: The queue the tagged op is routed to (a worker process serves only this one).
SPECIAL_QUEUE = "opgrid-test-special"


@op
def plain() -> int:
    return 1


@op(tags={"opgrid/queue": SPECIAL_QUEUE})
def on_special_queue(x: int) -> int:
    return x * 10


@job
def routed() -> None:
    on_special_queue(plain())
