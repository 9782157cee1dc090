"""``opgrid run logs RUN --step KEY --stdout|--stderr [--attempt N]``: what a step attempt
printed, as the worker that ran it captured it."""

from __future__ import annotations

from typing import Literal

import click

from opgrid.orchestrator.protocol.messages import RunRecord
from opgrid.orchestrator.protocol.step_keys import template_of
from opgrid.orchestrator.store.redis import RedisRunStore

from .options import UsageProblem


def echo_captured(
    store: RedisRunStore,
    record: RunRecord,
    step_keys: tuple[str, ...],
    stream: Literal["stdout", "stderr"],
    attempt: int | None,
) -> None:
    """Print one stream of one step attempt (the latest when ``attempt`` is None).

    Raises:
        UsageProblem: not exactly one step named, a step the run does not have, or one
            with no captured output (for that attempt).
    """
    if len(step_keys) != 1:
        raise UsageProblem(f"--{stream} shows one step's output: name it with --step KEY")
    (step_key,) = step_keys
    run_id = record.run_id
    if template_of(step_key) not in store.get_plan(run_id).step_named():
        raise UsageProblem(f"run {run_id} has no step {step_key!r}")
    captured = store.get_captured(run_id, step_key, attempt)
    if captured is None:
        which = f"attempt {attempt} of step" if attempt is not None else "step"
        attempts = sorted(a for key, a in store.captured_attempts(run_id) if key == step_key)
        known = f" (attempts with output: {', '.join(map(str, attempts))})" if attempts else ""
        raise UsageProblem(
            f"{which} {step_key!r} of run {run_id} has no captured output{known}: it printed "
            "nothing, or has not ended"
        )
    click.echo(captured.text(stream), nl=False)
