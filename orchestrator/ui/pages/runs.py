"""The Runs page (filtered, paginated, live) and the Run page (graph, timeline, events)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from urllib.parse import urlencode

import yaml
from starlette.requests import Request
from starlette.responses import Response

from ..actions import STATUSES, run_filter, run_row, ui_state
from ..cluster import (
    ERROR_OUTPUT,
    DagsterEventType,
    Failure,
    RunNotFound,
    ValueRef,
)
from ..redact import redact_text, redacted
from ..run_view import RunView, load_run
from ..runs_query import list_runs
from . import fragments, gantt
from .captured import captured_html
from .layout import duration, h, page, status_badge, tag_chips, when
from .outputs import outputs_html

logger = logging.getLogger(__name__)

E = DagsterEventType
#: The bodies of the two re-execute buttons.
ALL = '{"from_failure": false}'
FROM_FAILURE = '{"from_failure": true}'


def _tabs(params: dict[str, str]) -> str:
    current = params.get("status", "")
    tabs = [("", "All"), *[(s, s.capitalize()) for s in STATUSES]]
    links = []
    for value, name in tabs:
        query = {k: v for k, v in params.items() if k not in ("status", "cursor")}
        if value:
            query["status"] = value
        cls = "tab active" if value == current else "tab"
        links.append(f'<a class="{cls}" href="/runs?{h(urlencode(query))}">{h(name)}</a>')
    return f'<nav class="tabs">{"".join(links)}</nav>'


def _filter_form(request: Request) -> str:
    q = request.query_params
    tag = q.get("tag", "")
    return (
        '<form class="filters" method="get" action="/runs">'
        f'<input type="hidden" name="status" value="{h(q.get("status", ""))}">'
        f'<label>Job <input name="job" value="{h(q.get("job", ""))}" placeholder="any"></label>'
        f'<label>Tag <input name="tag" value="{h(tag)}" placeholder="key=value"></label>'
        f'<label>Created after <input name="after_local" type="datetime-local" '
        f'value="{h(q.get("after_local", ""))}"></label>'
        f'<input type="hidden" name="after" value="{h(q.get("after", ""))}">'
        '<button type="submit">Filter</button> <a href="/runs">Clear</a></form>'
    )


def runs_page(request: Request) -> Response:
    state = ui_state(request)
    params = dict(request.query_params)
    limit = min(int(params.get("limit") or 50), 500)
    listing = list_runs(
        state.cluster, run_filter(request.query_params), limit, params.get("cursor")
    )
    rows = [run_row(r) for r in listing.runs]
    more = ""
    if listing.next_cursor:
        query = {**params, "cursor": listing.next_cursor}
        more = f'<a class="button" href="/runs?{h(urlencode(query))}">Older runs →</a>'
    live_query = urlencode({k: v for k, v in params.items() if k != "cursor"}, doseq=True)
    live = "" if params.get("cursor") else f' data-live="/live/runs?{h(live_query)}"'
    body = (
        f"<h1>Runs</h1>{_tabs(params)}{_filter_form(request)}"
        f'<table class="runs"{live}><thead><tr><th>Run</th><th>Job</th><th>Status</th>'
        "<th>Tags</th><th>Created</th><th>Duration</th></tr></thead>"
        f'<tbody id="run-rows">{fragments.run_rows_html(rows)}</tbody></table>'
        f'<p class="pager">{more}</p>'
    )
    return page(request, "Runs", body, "/runs")


def _buttons(view: RunView) -> str:
    record = view.record
    run_id = h(record.run_id)
    ended = record.status.value in ("success", "failure", "canceled")
    failed = record.status.value in ("failure", "canceled")
    parts = [
        f'<button class="danger" data-action="/api/runs/{run_id}/cancel" '
        f'{"disabled" if ended else ""} id="cancel">Cancel</button>',
        f'<button data-action="/api/runs/{run_id}/reexecute" data-body="{h(ALL)}" '
        f'{"" if ended else "disabled"} id="reexecute-all">Re-execute all</button>',
        f'<button data-action="/api/runs/{run_id}/reexecute" data-body="{h(FROM_FAILURE)}" '
        f'{"" if failed else "disabled"} id="reexecute-failure">Re-execute from failure</button>',
        f'<a class="button" href="/launchpad/{h(record.job_name)}?from_run={run_id}">'
        "Open in launchpad</a>",
    ]
    return f'<div class="actions">{"".join(parts)}</div>'


def _errors(request: Request, view: RunView) -> str:
    failures = [(i, e) for i, e in view.events if e.kind is E.STEP_FAILURE and e.error]
    failures += [(i, e) for i, e in view.events if e.kind is E.RUN_FAILURE and e.error]
    if not failures:
        return ""
    blocks = []
    for _, event in failures:
        error = event.error
        assert error is not None
        meta = _failure_metadata(request, view, event.step_key) if event.step_key else ""
        blocks.append(
            f'<div class="error"><h3>{h(event.step_key or "run")}: {h(error.cls_name)}</h3>'
            f"<p>{h(redact_text(error.message))}</p>{meta}"
            f"<details><summary>Stack</summary><pre>{h(redact_text(error.stack))}</pre>"
            "</details></div>"
        )
    return f"<section><h2>Errors</h2>{''.join(blocks)}</section>"


def _failure_metadata(request: Request, view: RunView, step_key: str) -> str:
    state = ui_state(request)
    (data,) = state.cluster.store.load_outputs(
        view.record.run_id, [ValueRef(step_key, ERROR_OUTPUT)]
    )
    if data is None:
        return ""
    try:
        exc = state.cluster.load_value(data, f"the exception of step {step_key!r}")
    except Exception as error:  # an exception type this process cannot import
        logger.info("cannot load the exception of %s: %s", step_key, error, exc_info=True)
        return ""
    if not isinstance(exc, Failure):
        return ""
    rows = "".join(
        f"<tr><th>{h(k)}</th><td>{h(redact_text(str(v)))}</td></tr>"
        for k, v in redacted(exc.metadata).items()
    )
    shown = exc.description and exc.description != str(exc)
    description = f"<p>{h(redact_text(exc.description or ''))}</p>" if shown else ""
    return f'{description}<table class="meta"><tbody>{rows}</tbody></table>'


def _filters(view: RunView) -> str:
    steps = sorted({e.step_key for _, e in view.events if e.step_key})
    kinds = sorted({e.kind.name for _, e in view.events} | {"LOG_MESSAGE"})
    options = "".join(f'<option value="{h(s)}">{h(s)}</option>' for s in steps)
    kind_options = "".join(f'<option value="{h(k)}">{h(k)}</option>' for k in kinds)
    levels = "".join(
        f'<option value="{lv}">{lv}</option>' for lv in ("DEBUG", "INFO", "WARNING", "ERROR")
    )
    return (
        '<div class="filters" id="event-filters">'
        f'<label>Step <select id="f-step"><option value="">all</option>{options}</select></label>'
        f'<label>Kind <select id="f-kind"><option value="">all</option>{kind_options}</select>'
        f'</label><label>Level <select id="f-level"><option value="">all</option>{levels}'
        "</select></label></div>"
    )


def _truncated(view: RunView, shown: Sequence[object]) -> str:
    hidden = len(view.events) - len(shown)
    if hidden <= 0:
        return ""
    note = f"The {hidden} oldest events are not shown (the newest {len(shown)} are)."
    return f'<p class="muted">{note}</p>'


def _yaml(config: dict[str, object]) -> str:
    return yaml.safe_dump(redacted(config), sort_keys=False) if config else "{}"


def _head(view: RunView) -> str:
    record = view.record
    parent = ""
    if record.parent_run_id:
        link = f'<a href="/runs/{h(record.parent_run_id)}">{h(record.parent_run_id[:8])}</a>'
        parent = f" · re-executes {link}"
    partition = f" · partition {h(record.partition_key)}" if record.partition_key else ""
    took = h(duration(record.started_at, record.finished_at))
    return f"""
<div class="run-head" id="run" data-run="{h(record.run_id)}" data-cursor="{h(view.cursor)}"
 data-status="{h(record.status.value)}">
<h1>Run <span class="mono">{h(record.run_id)}</span>
 <span id="run-status">{status_badge(record.status.value)}</span></h1>
<p>Job <a href="/jobs/{h(record.job_name)}">{h(record.job_name)}</a>
 · created {h(when(record.created_at))}
 · duration <span id="run-duration">{took}</span>{parent}{partition}</p>
<p>{tag_chips(redacted(record.tags))}</p>
{_buttons(view)}<p id="action-result" class="muted"></p></div>"""


def run_page(request: Request) -> Response:
    state = ui_state(request)
    run_id = request.path_params["run_id"]
    try:
        view = load_run(state.cluster, run_id)
    except RunNotFound as exc:
        return page(request, "Run not found", f"<h1>Run not found</h1><p>{h(exc)}</p>", status=404)
    shown = view.events[-fragments.MAX_EVENTS :]
    graph = fragments.plan_graph(view.plan, view.node_statuses())
    body = f"""{_head(view)}
<section><h2>Steps <span id="step-counts">{fragments.step_counts(view)}</span></h2>
<div class="graph" id="step-graph">{graph}</div></section>
<section><h2>Timeline</h2><p class="muted">Light: waiting in the queue; solid: running.
Hover a bar for its worker, retries and redeliveries.</p>
<div class="gantt-wrap" id="gantt">{gantt.render(view)}</div></section>
{_errors(request, view)}
<section><h2>Outputs</h2><div id="outputs">{outputs_html(state, view)}</div></section>
<section><h2>Printed output</h2><div id="printed">{captured_html(state, view)}</div></section>
<section><h2>Events</h2>{_filters(view)}{_truncated(view, shown)}
<table class="events"><thead><tr><th>Time</th><th>Kind</th><th>Step</th><th>Level</th>
<th>Detail</th></tr></thead><tbody id="event-rows">{fragments.event_rows(shown)}</tbody></table>
</section>
<section><h2>Run config</h2><pre>{h(_yaml(view.plan.run_config))}</pre></section>"""
    return page(request, f"Run {view.record.run_id[:8]}", body, "/runs")
