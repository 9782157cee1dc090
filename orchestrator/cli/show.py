"""``opgrid run show RUN_ID [-v] [--json]``: one run's record and what each step did.

Per step: its status and duration; the metadata of its outputs (``Output(metadata=)``,
``context.add_output_metadata``) and of the ``Failure`` it raised; for a queued step,
how long it has waited, on which queue, and why (no live consumer, or how many
messages wait on the queue). Then the errors of failed steps.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import click

from opgrid.errors import RunNotFound
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.client.runs import record_json, resolve_run_id
from opgrid.orchestrator.planning.details import StepDetails, queued_since, step_details
from opgrid.orchestrator.planning.plan import ExecutionPlan
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import RunRecord
from opgrid.orchestrator.protocol.status import StepStatus
from opgrid.orchestrator.protocol.step_keys import is_copy_of, template_of
from opgrid.orchestrator.protocol.tags import step_queue
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.connect import connect
from opgrid.orchestrator.store.redis import RedisRunStore

from .options import (
    UsageProblem,
    cluster_errors,
    cluster_options,
    cluster_settings,
    json_option,
    open_store,
)
from .render import format_duration

#: Colors of the statuses in the text views.
STATUS_COLORS = {"success": "green", "failure": "red", "canceled": "yellow", "skipped": "yellow"}


@dataclass(frozen=True, slots=True)
class Waiting:
    """A queued step: where it waits, since when, and what the cluster says about it."""

    queue: str
    since: float | None
    consumed: bool
    #: messages waiting on the queue (None: the broker is not Redis)
    depth: int | None

    def as_json(self, now: float) -> dict[str, Any]:
        waited = None if self.since is None else round(now - self.since, 3)
        return {
            "queue": self.queue,
            "since": self.since,
            "waited_s": waited,
            "consumed": self.consumed,
            "depth": self.depth,
        }

    def text(self, now: float) -> str:
        waited = "" if self.since is None else f" {_waited(now - self.since)}"
        line = f"queued{waited} on {self.queue!r}"
        if not self.consumed:
            return line + click.style(": no live consumer", fg="red")
        return line if self.depth is None else f"{line} ({self.depth} waiting on it)"


@click.command(name="show")
@click.argument("run_id")
@click.option("-v", "--verbose", is_flag=True, help="Print the stack of each error.")
@json_option
@cluster_options
@click.pass_context
def show_run(
    ctx: click.Context,
    run_id: str,
    verbose: bool,
    as_json: bool,
    redis_url: str | None,
    namespace: str | None,
) -> None:
    """A run's record, each step's status and metadata, and the errors of failed steps.

    RUN_ID may be a unique prefix of the run's id.
    """
    settings = cluster_settings(ctx, redis_url, namespace)
    with cluster_errors(settings), open_store(settings) as store:
        record = record_of(store, run_id)
        plan = store.get_plan(record.run_id)
        rows = step_rows([step.key for step in plan.steps], store.step_statuses(record.run_id))
        events = [event for _, event in store.read_events(record.run_id)]
        waiting = _waiting(store, settings, plan, record, rows, events)
    details = step_details(events)
    now = time.time()
    if as_json:
        steps = [_step_json(key, status, details, waiting, now) for key, status in rows]
        errors = [e.model_dump(mode="json") for e in events if e.error is not None]
        click.echo(json.dumps({**record_json(record), "steps": steps, "errors": errors}, indent=2))
        return
    _echo_record(record)
    took = _step_durations(events)
    took.update({key: wait.text(now) for key, wait in waiting.items()})
    click.echo(f"steps ({len(rows)})")
    width = max((len(key) for key, _ in rows), default=0)
    for key, status in rows:
        label = click.style(f"{status:<12}", fg=STATUS_COLORS.get(status))
        click.echo(f"  {label} {key:<{width}}  {took.get(key, '')}".rstrip())
        _echo_details(details.get(key))
    _echo_errors(events, verbose)


def _step_json(
    key: str,
    status: str,
    details: Mapping[str, StepDetails],
    waiting: Mapping[str, Waiting],
    now: float,
) -> dict[str, Any]:
    found = details.get(key, StepDetails())
    wait = waiting.get(key)
    return {
        "step_key": key,
        "status": status,
        "output_metadata": found.output_metadata,
        "failure_metadata": found.failure_metadata,
        "queued": wait.as_json(now) if wait is not None else None,
    }


def _echo_record(record: RunRecord) -> None:
    fields = {
        "run": record.run_id,
        "job": record.job_name,
        "location": record.location or "",
        "status": click.style(record.status.value, fg=STATUS_COLORS.get(record.status.value)),
        "tags": ", ".join(f"{key}={value}" for key, value in sorted(record.tags.items())),
        "partition": record.partition_key or "",
        "created": clock(record.created_at),
        "started": clock(record.started_at),
        "finished": clock(record.finished_at),
        "duration": run_duration(record),
    }
    for name, value in fields.items():
        if value:
            click.echo(f"{name:<10}{value}")


def _echo_details(found: StepDetails | None) -> None:
    if found is None:
        return
    for label, metadata in found.output_metadata.items():
        click.echo(f"      output {label}: {_metadata_text(metadata)}")
    if found.failure_metadata:
        text = _metadata_text(found.failure_metadata)
        click.echo(click.style(f"      failure metadata: {text}", fg="red"))


def _waiting(
    store: RedisRunStore,
    settings: Settings,
    plan: ExecutionPlan,
    record: RunRecord,
    rows: list[tuple[str, str]],
    events: list[RunEvent],
) -> dict[str, Waiting]:
    """For each queued step: its queue, since when it waits, whether a live worker
    consumes the queue and how many messages wait on it."""
    steps = plan.step_named()
    queued = {
        key: step_queue(step.tags, record.tags, settings.default_queue)
        for key, status in rows
        if status == StepStatus.QUEUED.value and (step := steps.get(template_of(key)))
    }
    if not queued:
        return {}
    consumed = {queue for queues in store.live_workers().values() for queue in queues}
    depths = _queue_depths(store, settings, set(queued.values()))
    since = queued_since(plan, events, queued)
    return {
        key: Waiting(queue, since.get(key), queue in consumed, depths.get(queue))
        for key, queue in queued.items()
    }


def _queue_depths(store: RedisRunStore, settings: Settings, queues: set[str]) -> dict[str, int]:
    """Messages waiting on each queue, from the broker's lists when the broker is Redis."""
    if settings.broker_url == settings.redis_url:
        return store.queue_depths(queues)
    if urlsplit(settings.broker_url).scheme not in ("redis", "rediss"):
        return {}
    broker = connect(settings.broker_url)
    try:
        return store.queue_depths(queues, broker)
    finally:
        broker.close()


# Shared with the other run views ----------------------------------------------------------
def record_of(store: RedisRunStore, run_id: str) -> RunRecord:
    """The record of the run ``run_id`` names (a unique prefix will do)."""
    try:
        return store.get_run(resolve_run_id(store, run_id))
    except RunNotFound as exc:  # AmbiguousRunId too: its message lists the matches
        raise UsageProblem(str(exc)) from exc


def clock(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def run_duration(record: RunRecord) -> str:
    if record.started_at is None:
        return ""
    if record.finished_at is None:
        return format_duration(time.time() - record.started_at) + " so far"
    return format_duration(record.finished_at - record.started_at)


def step_rows(plan_keys: list[str], statuses: dict[str, str]) -> list[tuple[str, str]]:
    """Steps in plan order, each mapped copy after its template; never seen: pending."""
    rows: list[tuple[str, str]] = []
    for key in plan_keys:
        copies = sorted(k for k in statuses if is_copy_of(k, key))
        if key in statuses or not copies:
            rows.append((key, statuses.get(key, StepStatus.PENDING.value)))
        rows += [(copy, statuses[copy]) for copy in copies]
    listed = {key for key, _ in rows}
    return rows + sorted((k, v) for k, v in statuses.items() if k not in listed)


def _step_durations(events: list[RunEvent]) -> dict[str, str]:
    started: dict[str, float] = {}
    took: dict[str, str] = {}
    for event in events:
        if event.step_key is None:
            continue
        if event.kind in (E.STEP_START, E.STEP_RESTARTED):
            started[event.step_key] = event.timestamp
        elif event.kind in (E.STEP_SUCCESS, E.STEP_FAILURE) and event.step_key in started:
            took[event.step_key] = format_duration(event.timestamp - started[event.step_key])
    return took


def _echo_errors(events: list[RunEvent], verbose: bool) -> None:
    failures = {
        event.step_key or "<run>": event.error
        for event in events
        if event.error is not None and event.kind in (E.STEP_FAILURE, E.RUN_FAILURE)
    }
    if not failures:
        return
    click.echo("errors")
    for where, error in failures.items():
        click.echo(click.style(f"  {where}  {error.line()}", fg="red"))
        if verbose and error.stack:
            click.echo("\n".join("      " + line for line in error.stack.rstrip().splitlines()))


def _waited(seconds: float) -> str:
    """``12 s``, ``5 min``, ``2.5 h``: how long a step has waited, in the unit that fits."""
    if seconds < 60:
        return f"{max(seconds, 0.0):.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _metadata_text(metadata: Mapping[str, Any]) -> str:
    """``rows=3, path='/tmp/x'``: metadata on one line."""
    return ", ".join(f"{key}={value!r}" for key, value in metadata.items())
