"""What an op prints: ``sys.stdout`` and ``sys.stderr``, captured per step attempt.

The first capture in a process puts a ``ThreadStream`` in place of each stream (again
if something replaced it since). A write from a thread that runs a step attempt goes
to that attempt's ``Capture``; a write from any other thread goes to the stream that
was there before, so prints outside a step, and the worker's own output, still reach
the worker's stdout and stderr. The threads and solo pools run several, or one,
attempts per process this way; each prefork process runs one at a time. (Output an op
writes straight to a file descriptor, or from a thread it started, is not captured.)

Each stream keeps its first ``capture_limit_bytes`` bytes; the text says how many more
were cut.
"""

from __future__ import annotations

import sys
import threading
from types import TracebackType
from typing import Any, TextIO

from opgrid.orchestrator.protocol.captured import CapturedOutput

_local = threading.local()
_INSTALL_LOCK = threading.Lock()


class _Buffer:
    """One stream of one attempt: the head up to ``limit`` bytes, and how much was cut."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.cut = 0

    def write(self, text: str) -> int:
        data = text.encode("utf-8", "replace")
        room = self.limit - self.size
        if len(data) <= room:
            self.parts.append(text)
            self.size += len(data)
        else:
            if room > 0:
                self.parts.append(data[:room].decode("utf-8", "ignore"))
                self.size = self.limit
            self.cut += len(data) - max(room, 0)
        return len(text)

    def text(self, name: str) -> str:
        body = "".join(self.parts)
        if self.cut:
            newline = "" if not body or body.endswith("\n") else "\n"
            body += (
                f"{newline}[opgrid: {self.cut} more bytes of {name} cut; output is kept up "
                f"to {self.limit} bytes per stream (OPGRID_CAPTURE_LIMIT_BYTES)]\n"
            )
        return body


class ThreadStream:
    """Stands in for ``sys.stdout`` or ``sys.stderr``: writes of a capturing thread go to
    its capture, every other write to the stream it replaced."""

    def __init__(self, real: TextIO, name: str) -> None:
        self.real = real
        self.name = name

    def _target(self) -> _Buffer | None:
        streams: dict[str, _Buffer] | None = getattr(_local, "streams", None)
        return streams[self.name] if streams is not None else None

    def write(self, text: str) -> int:
        target = self._target()
        if target is None:
            return self.real.write(text)
        return target.write(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._target() is None:
            self.real.flush()

    def __getattr__(self, name: str) -> Any:  # encoding, isatty, fileno, ...
        return getattr(self.real, name)


def _install() -> None:
    """Put a ``ThreadStream`` in place of each stream, unless one is there."""
    with _INSTALL_LOCK:
        if not isinstance(sys.stdout, ThreadStream):
            sys.stdout = ThreadStream(sys.stdout, "stdout")
        if not isinstance(sys.stderr, ThreadStream):
            sys.stderr = ThreadStream(sys.stderr, "stderr")


class Capture:
    """``with capture:`` around the op of one attempt, in the thread that runs it."""

    def __init__(self, limit_bytes: int) -> None:
        self.stdout = _Buffer(limit_bytes)
        self.stderr = _Buffer(limit_bytes)
        self._previous: dict[str, _Buffer] | None = None

    def __enter__(self) -> Capture:
        _install()
        self._previous = getattr(_local, "streams", None)
        _local.streams = {"stdout": self.stdout, "stderr": self.stderr}
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _local.streams = self._previous

    @property
    def empty(self) -> bool:
        """Whether the op printed nothing at all."""
        return not (self.stdout.size or self.stdout.cut or self.stderr.size or self.stderr.cut)

    def output(self, step_key: str, attempt: int) -> CapturedOutput:
        """What was captured, as it is stored."""
        return CapturedOutput(
            step_key=step_key,
            attempt=attempt,
            stdout=self.stdout.text("stdout"),
            stderr=self.stderr.text("stderr"),
            stdout_cut_bytes=self.stdout.cut,
            stderr_cut_bytes=self.stderr.cut,
        )
