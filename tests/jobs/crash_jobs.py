"""Jobs whose ops end their own process, for the process-death tests.

Each op appends ``<op> <event> <pid>`` to the file ``MARKS`` names, so a test can
count how often an op really started.
"""

from __future__ import annotations

import os
import signal

from opgrid import In, Nothing, Out, job, op


def mark(name: str, event: str) -> None:
    path = os.environ.get("MARKS")
    if path:
        with open(path, "a") as marks:
            marks.write(f"{name} {event} {os.getpid()}\n")


@op(out=Out(Nothing))
def exits() -> None:
    """Ends its process at once, as ``os._exit`` in a library would."""
    mark("exits", "start")
    os._exit(3)


@op(out=Out(Nothing))
def segfaults() -> None:
    """Dies of SIGSEGV, as a crashing C extension would."""
    mark("segfaults", "start")
    os.kill(os.getpid(), signal.SIGSEGV)


@op(ins={"after": In(Nothing)})
def downstream() -> int:
    mark("downstream", "start")
    return 1


@op
def independent() -> int:
    mark("independent", "start")
    return 2


@job
def exiting():
    """exits -> downstream, and an independent op beside them."""
    downstream(after=exits())
    independent()


@job
def segfaulting():
    """segfaults -> downstream, and an independent op beside them."""
    downstream(after=segfaults())
    independent()
