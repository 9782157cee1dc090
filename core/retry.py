"""Retry policies for ops: how many times a failed step runs again, and after what delay."""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum


class Backoff(Enum):
    """How the delay grows between attempts."""

    LINEAR = "LINEAR"
    EXPONENTIAL = "EXPONENTIAL"


class Jitter(Enum):
    """How the delay is randomised."""

    FULL = "FULL"
    PLUS_MINUS = "PLUS_MINUS"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """A step that raises is run again up to ``max_retries`` times.

    Args:
        max_retries: retries after the first attempt.
        delay: seconds before a retry (the base of the backoff).
        backoff: how the delay grows with each retry.
        jitter: how the delay is randomised.
    """

    max_retries: int = 1
    delay: float | None = None
    backoff: Backoff | None = None
    jitter: Jitter | None = None

    def calculate_delay(self, attempt_num: int) -> float:
        """Seconds before retry ``attempt_num`` (1 for the first), jitter applied."""
        return self.delay_for(attempt_num)

    def delay_for(self, retry_number: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry ``retry_number`` (1 for the first retry)."""
        return retry_delay(self.delay, self.backoff, self.jitter, retry_number, rng)


def retry_delay(
    base_s: float | None,
    backoff: Backoff | None,
    jitter: Jitter | None,
    retry_number: int,
    rng: random.Random | None = None,
) -> float:
    """The delay of one retry, from a base delay, a backoff and a jitter."""
    if not base_s:
        return 0.0
    if backoff is Backoff.LINEAR:
        delay = base_s * retry_number
    elif backoff is Backoff.EXPONENTIAL:
        delay = base_s * (2**retry_number - 1)
    else:
        delay = base_s
    pick = (rng or random).random()
    if jitter is Jitter.FULL:
        delay *= pick
    elif jitter is Jitter.PLUS_MINUS:
        delay = max(0.0, delay + (2 * pick - 1) * base_s)
    return delay
