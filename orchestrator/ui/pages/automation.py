"""The Schedules, Sensors and Backfills pages, and the page of one schedule or sensor."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from .. import automation as a
from ..actions import ui_state
from ..cluster import InstigatorType, TickRecord
from ..state import UIState
from .layout import h, page, status_badge, when

#: The path and title of each kind's pages.
_KIND = {
    InstigatorType.SCHEDULE: ("/schedules", "Schedules"),
    InstigatorType.SENSOR: ("/sensors", "Sensors"),
}


def leader_note(state: UIState) -> str:
    """Who evaluates ticks, or that nobody does."""
    leader = state.cluster.scheduler_leader()
    if leader is None:
        return (
            '<div class="warning" id="no-leader"><b>No coordinator is leading the scheduler:'
            "</b> ticks are not being evaluated and backfills do not advance. Start "
            "<code>opgrid coordinator</code>.</div>"
        )
    return (
        f'<p class="muted" id="leader">Ticks are evaluated by the leading coordinator, '
        f'<span class="mono">{h(leader)}</span>.</p>'
    )


def _state(item: a.Instigator) -> str:
    word = "running" if item.running else "stopped"
    default = ' <span class="muted">(default)</span>' if item.by_default else ""
    return f'<span class="badge {word}">{word}</span>{default}'


def _switch(item: a.Instigator) -> str:
    base, _ = _KIND[item.kind]
    verb, label, css = ("stop", "Stop", "danger") if item.running else ("start", "Start", "")
    return (
        f'<button class="{css}" data-post="/api{base}/{h(item.name)}/{verb}" '
        f'data-name="{h(item.name)}">{label}</button>'
    )


def _next(item: a.Instigator) -> str:
    """When it ticks next; that it will not while no scheduler leads."""
    text = h(when(item.next_tick_ts))
    if item.next_tick_ts is not None and not item.leading:
        text += ' <span class="muted">(not while no coordinator leads)</span>'
    return text


def _latest(tick: TickRecord | None) -> str:
    if tick is None:
        return '<span class="muted">none yet</span>'
    return f"{status_badge(tick.status)} {h(when(tick.timestamp))}"


def _jobs(item: a.Instigator) -> str:
    if item.definition.run_status is not None:
        return f'<span class="muted">on runs that reach {h(item.definition.run_status)}</span>'
    return ", ".join(f'<a href="/jobs/{h(j)}">{h(j)}</a>' for j in item.jobs) or "—"


def _schedule_rows(items: list[a.Instigator]) -> str:
    return "".join(
        f'<tr data-name="{h(i.name)}" data-state="{"running" if i.running else "stopped"}">'
        f'<td><a href="/schedules/{h(i.name)}">{h(i.name)}</a></td><td>{_jobs(i)}</td>'
        f'<td class="mono">{h(i.cron)}</td><td>{h(i.timezone)}</td><td>{_state(i)}</td>'
        f'<td class="next">{_next(i)}</td><td>{_latest(i.latest)}</td>'
        f"<td>{_switch(i)}</td></tr>"
        for i in items
    )


def _sensor_rows(items: list[a.Instigator]) -> str:
    return "".join(
        f'<tr data-name="{h(i.name)}" data-state="{"running" if i.running else "stopped"}">'
        f'<td><a href="/sensors/{h(i.name)}">{h(i.name)}</a></td><td>{_jobs(i)}</td>'
        f"<td>every {i.interval_s:g} s</td><td>{_state(i)}</td>"
        f'<td class="mono cursor">{h(i.state.cursor or "—")}</td>'
        f"<td>{_latest(i.latest)}</td><td>{_switch(i)}</td></tr>"
        for i in items
    )


_HEADS = {
    InstigatorType.SCHEDULE: ("Schedule", "Job", "Cron", "Timezone", "State", "Next tick"),
    InstigatorType.SENSOR: ("Sensor", "Job", "Interval", "State", "Cursor"),
}


def _list_body(state: UIState, kind: InstigatorType) -> str:
    items = a.instigators(state, kind)
    _, title = _KIND[kind]
    heads = "".join(f"<th>{h(x)}</th>" for x in (*_HEADS[kind], "Latest tick", ""))
    rows = _schedule_rows(items) if kind is InstigatorType.SCHEDULE else _sensor_rows(items)
    if not items:
        rows = (
            f'<tr><td colspan="8" class="muted">No {title.lower()}: none in the loaded code '
            "locations, none published by a worker.</td></tr>"
        )
    return (
        f'<h1>{title}</h1>{leader_note(state)}<p id="action-result"></p>'
        f'<section><table class="automation" id="{kind.value}s"><thead><tr>{heads}</tr>'
        f"</thead><tbody>{rows}</tbody></table></section>"
    )


async def schedules_page(request: Request) -> Response:
    body = await run_in_threadpool(_list_body, ui_state(request), InstigatorType.SCHEDULE)
    return page(request, "Schedules", body, "/schedules")


async def sensors_page(request: Request) -> Response:
    body = await run_in_threadpool(_list_body, ui_state(request), InstigatorType.SENSOR)
    return page(request, "Sensors", body, "/sensors")


def _tick_rows(ticks: list[TickRecord]) -> str:
    if not ticks:
        return '<tr><td colspan="4" class="muted">No ticks recorded yet.</td></tr>'
    rows = []
    for tick in ticks:
        detail = tick.skip_reason or ""
        if tick.error is not None:
            detail = f"{tick.error.cls_name}: {tick.error.message}"
        if tick.evaluated and not tick.launched:
            detail = (detail + " (launching runs)").strip()
        runs = " ".join(f'<a class="mono" href="/runs/{h(r)}">{h(r[:8])}</a>' for r in tick.run_ids)
        rows.append(
            f'<tr data-status="{h(tick.status)}"><td>{h(when(tick.timestamp))}</td>'
            f"<td>{status_badge(tick.status)}</td><td>{h(detail)}</td><td>{runs}</td></tr>"
        )
    return "".join(rows)


def _facts(item: a.Instigator) -> str:
    facts = [("Location", h(item.definition.location)), ("Job", _jobs(item))]
    if item.kind is InstigatorType.SCHEDULE:
        facts += [("Cron", f'<span class="mono">{h(item.cron)}</span>')]
        facts += [("Timezone", h(item.timezone)), ("Next tick", _next(item))]
    else:
        facts += [("Interval", f"every {item.interval_s:g} s")]
        facts += [("Cursor", f'<span class="mono cursor">{h(item.state.cursor or "—")}</span>')]
    facts += [("State", _state(item))]
    if item.definition.info.description:
        facts.append(("Description", h(item.definition.info.description)))
    return "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)


def _detail_body(state: UIState, kind: InstigatorType, name: str) -> str | None:
    item = a.instigator(state, kind, name)
    if item is None:
        return None
    ticks = a.ticks(state, kind, name)
    base, title = _KIND[kind]
    return (
        f'<p class="muted"><a href="{base}">{title}</a></p><h1>{h(name)}</h1>'
        f'{leader_note(state)}<section><dl class="facts">{_facts(item)}</dl>'
        f'<div class="actions">{_switch(item)}</div><p id="action-result"></p></section>'
        f'<section><h2>Ticks ({len(ticks)})</h2><table id="ticks"><thead><tr><th>Time</th>'
        "<th>Status</th><th>Skip reason or error</th><th>Runs launched</th></tr></thead>"
        f"<tbody>{_tick_rows(ticks)}</tbody></table></section>"
    )


async def _detail(request: Request, kind: InstigatorType) -> Response:
    name = request.path_params["name"]
    body = await run_in_threadpool(_detail_body, ui_state(request), kind, name)
    base, title = _KIND[kind]
    if body is None:
        missing = (
            f"<h1>Not found</h1><p>No {kind.value} named <b>{h(name)}</b> is loaded or "
            f'published. See <a href="{base}">{title}</a>.</p>'
        )
        return page(request, "Not found", missing, base, status=404)
    return page(request, name, body, base)


async def schedule_page(request: Request) -> Response:
    return await _detail(request, InstigatorType.SCHEDULE)


async def sensor_page(request: Request) -> Response:
    return await _detail(request, InstigatorType.SENSOR)


def _progress(view: a.BackfillView) -> str:
    """A bar of the partitions: succeeded, failed, canceled, running (an SVG: the page's
    content security policy allows no inline styles)."""
    total = max(view.requested, 1)
    running = max(view.launched - view.succeeded - view.failed - view.canceled, 0)
    parts = [("ok", view.succeeded), ("bad", view.failed), ("off", view.canceled)]
    x, rects = 0.0, []
    for css, n in [*parts, ("run", running)]:
        width = 100 * n / total
        if n:
            rects.append(f'<rect class="{css}" x="{x:.2f}" y="0" width="{width:.2f}" height="10"/>')
        x += width
    done = view.succeeded + view.failed + view.canceled
    return (
        f'<svg class="progress" viewBox="0 0 100 10" preserveAspectRatio="none" role="img" '
        f'aria-label="{done} of {view.requested} finished"><rect class="track" x="0" y="0" '
        f'width="100" height="10"/>{"".join(rects)}</svg>'
        f'<span class="muted small">{done}/{view.requested}</span>'
    )


def _partition_chips(view: a.BackfillView) -> str:
    chips = []
    for key in view.partitions:
        status, run_id = view.partition_state(key)
        label = f"{h(key)} · {h(status)}"
        link = f'<a href="/runs/{h(run_id)}">{label}</a>' if run_id else label
        chips.append(f'<span class="chip part {h(status)}">{link}</span>')
    return "".join(chips)


def _backfill_row(view: a.BackfillView) -> str:
    cancel = (
        f'<button class="danger" data-post="/api/backfills/{h(view.backfill_id)}/cancel">'
        "Cancel</button>"
        if view.status == "requested"
        else ""
    )
    counts = "".join(
        f"<td>{n}</td>" for n in (view.requested, view.launched, view.succeeded, view.failed)
    )
    return (
        f'<tr data-backfill="{h(view.backfill_id)}" data-status="{h(view.status)}">'
        f'<td class="nowrap"><span class="mono">{h(view.backfill_id)}</span><br>'
        '<span class="muted small">'
        f"{h(when(view.progress.record.backfill.created_ts))}</span></td>"
        f'<td><a href="/jobs/{h(view.job_name)}">{h(view.job_name)}</a></td>'
        f'<td>{status_badge(view.status)}</td>{counts}<td class="nowrap">{_progress(view)}</td>'
        f'<td class="parts">{_partition_chips(view)}</td><td>{cancel}</td></tr>'
    )


def _backfills_body(state: UIState) -> str:
    views = a.backfills(state)
    rows = "".join(_backfill_row(v) for v in views) or (
        '<tr><td colspan="10" class="muted">No backfills. Start one with '
        "<code>opgrid job backfill</code>.</td></tr>"
    )
    heads = "".join(
        f"<th>{x}</th>"
        for x in (
            "Backfill",
            "Job",
            "Status",
            "Requested",
            "Launched",
            "Succeeded",
            "Failed",
            "Progress",
            "Partitions and runs",
            "",
        )
    )
    return (
        f'<h1>Backfills</h1>{leader_note(state)}<p id="action-result"></p>'
        f'<section><table id="backfills"><thead><tr>{heads}</tr></thead>'
        f"<tbody>{rows}</tbody></table></section>"
    )


async def backfills_page(request: Request) -> Response:
    body = await run_in_threadpool(_backfills_body, ui_state(request))
    return page(request, "Backfills", body, "/backfills")
