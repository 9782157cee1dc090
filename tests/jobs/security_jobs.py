"""Jobs for the security tests: a code location that worker processes load by file.

``marker`` writes a file when it runs, so a test can tell that a forged step request
never ran it; ``gated`` lets a test overwrite an upstream output in Redis between the
step that wrote it and the step that reads it.
"""

from __future__ import annotations

import time
from pathlib import Path

from opgrid import Config, job, op

#: Longest ``wait_for_gate`` waits for its gate file.
GATE_TIMEOUT_S = 20.0


class MarkerConfig(Config):
    path: str


@op
def write_marker(config: MarkerConfig) -> str:
    Path(config.path).write_text("the marker op ran")
    return config.path


@job
def marker() -> None:
    """Writes the file its config names."""
    write_marker()


@op
def hello() -> str:
    return "hello"


@op
def shout(text: str) -> str:
    return text.upper()


@job
def greeting() -> None:
    """Two harmless steps."""
    shout(hello())


class GateConfig(Config):
    gate: str


@op
def produce() -> dict[str, int]:
    return {"value": 41}


@op
def wait_for_gate(config: GateConfig, value: dict[str, int]) -> int:
    deadline = time.monotonic() + GATE_TIMEOUT_S
    while not Path(config.gate).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gate file {config.gate} never appeared")
        time.sleep(0.02)
    return 1


@op
def consume(value: dict[str, int], ready: int) -> int:
    return value["value"] + ready


@job
def gated() -> None:
    """``consume`` reads ``produce``'s output only after the gate file exists."""
    value = produce()
    consume(value, wait_for_gate(value))
