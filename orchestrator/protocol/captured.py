"""What a step attempt wrote on ``sys.stdout`` and ``sys.stderr``, as it is stored.

A worker captures both streams while an op runs (``opgrid.workers.capture``) and stores
one ``CapturedOutput`` per attempt with the run; ``opgrid run logs --stdout`` and the
run page read it back.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: The two streams a worker captures.
STREAMS = ("stdout", "stderr")


class CapturedOutput(BaseModel):
    """The text one attempt of one step printed, each stream cut to the capture limit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = 1
    step_key: str
    attempt: int = Field(default=0, ge=0)
    stdout: str = ""
    stderr: str = ""
    #: bytes of each stream beyond the capture limit, not kept (the text says so too)
    stdout_cut_bytes: int = Field(default=0, ge=0)
    stderr_cut_bytes: int = Field(default=0, ge=0)

    def text(self, stream: Literal["stdout", "stderr"]) -> str:
        """One stream's text."""
        return self.stdout if stream == "stdout" else self.stderr


def captured_field(step_key: str, attempt: int) -> str:
    """The field of a run's captured-output hash that holds one attempt's output."""
    return f"{attempt}:{step_key}"


def parse_captured_field(field: str) -> tuple[str, int]:
    """(step key, attempt) of a captured-output field (``captured_field``'s inverse)."""
    attempt, _, step_key = field.partition(":")
    return step_key, int(attempt)
