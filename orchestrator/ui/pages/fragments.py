"""Pieces of pages that live streams send again: run rows, a run's step graph, timeline
and events (the Cluster page's tables are in ``cluster``)."""

from __future__ import annotations

import time
from typing import Any

from ..cluster import ExecutionPlan, RunEvent
from ..graph_svg import GraphNode, render
from ..redact import redact_text
from ..run_view import RunView
from ..state import UIState
from . import gantt
from .layout import duration, h, status_badge, tag_chips, when

#: Most events a run page renders at first (the newest; the stream adds the rest).
MAX_EVENTS = 1000


def run_rows_html(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return '<tr><td colspan="6" class="muted">No runs match.</td></tr>'
    return "".join(
        f'<tr data-run="{h(r["run_id"])}" data-status="{h(r["status"])}">'
        f'<td><a href="/runs/{h(r["run_id"])}">{h(r["run_id"][:8])}</a></td>'
        f'<td><a href="/jobs/{h(r["job"])}">{h(r["job"])}</a></td>'
        f"<td>{status_badge(r['status'])}</td>"
        f"<td>{tag_chips(r['tags'])}</td>"
        f"<td>{h(when(r['created_at']))}</td>"
        f"<td>{h(duration(r['started_at'], r['finished_at']))}</td></tr>"
        for r in rows
    )


def plan_graph(plan: ExecutionPlan, statuses: dict[str, str]) -> str:
    """The steps of a plan (mapped copies folded into their template) coloured by status."""
    nodes = []
    edges: list[tuple[str, str]] = []
    for step in plan.steps:
        status = statuses.get(step.key, "pending")
        label = step.key + ("[*]" if step.mapped_by is not None else "")
        nodes.append(GraphNode(step.key, label, f"step {status}", note=status))
        edges.extend((src.step, step.key) for i in step.inputs for src in i.sources)
    return render(nodes, edges, "dag plan")


def event_rows(entries: list[tuple[str, RunEvent]]) -> str:
    return "".join(_event_row(entry_id, event) for entry_id, event in entries)


def _event_row(entry_id: str, event: RunEvent) -> str:
    detail = redact_text(event.message)
    if event.error is not None:
        detail = f"{event.error.cls_name}: {redact_text(event.error.message)}"
    if event.output_name:
        detail = f"output {event.output_name}" + (
            f"[{event.mapping_key}]" if event.mapping_key else ""
        )
    level = event.level or ("ERROR" if event.is_failure else "INFO")
    return (
        f'<tr data-id="{h(entry_id)}" data-step="{h(event.step_key or "")}" '
        f'data-kind="{h(event.kind.name)}" data-level="{h(level)}">'
        f'<td class="mono">{h(_clock(event.timestamp))}</td>'
        f'<td><span class="kind {h(event.kind.name.lower())}">{h(event.kind.name)}</span></td>'
        f'<td class="mono">{h(event.step_key or "")}</td><td>{h(level)}</td>'
        f"<td>{h(detail)}</td></tr>"
    )


def _clock(timestamp: float) -> str:
    """``HH:MM:SS.mmm`` (UTC)."""
    moment = time.gmtime(timestamp)
    millis = int(timestamp * 1000) % 1000
    return f"{moment.tm_hour:02d}:{moment.tm_min:02d}:{moment.tm_sec:02d}.{millis:03d}"


def step_counts(view: RunView) -> str:
    counts: dict[str, int] = {}
    for status in view.statuses.values():
        counts[status] = counts.get(status, 0) + 1
    return " ".join(
        f'<span class="count {h(s)}">{h(s)} {n}</span>' for s, n in sorted(counts.items())
    )


def run_update(
    state: UIState, view: RunView, entries: list[tuple[str, RunEvent]]
) -> dict[str, Any]:
    """What a live run page applies for a batch of new events."""
    from .outputs import outputs_html

    return {
        "outputs": outputs_html(state, view) if entries else None,
        "cursor": view.cursor,
        "status": view.record.status.value,
        "statuses": view.node_statuses(),
        "events": event_rows(entries),
        "gantt": gantt.render(view),
        "counts": step_counts(view),
        "duration": duration(view.record.started_at, view.record.finished_at),
    }
