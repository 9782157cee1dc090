"""The Cluster page: live workers with their pools and the steps they run now, queues
(one with waiting steps and no consumer stands out), coordinators with the runs they
lease, and the scheduler leader. The live stream sends ``cluster_html`` again."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..actions import ui_state
from ..cluster_view import ClusterNow, StepNow, WorkerNow, cluster_now
from ..state import UIState
from .layout import h, page


def cluster_page(request: Request) -> Response:
    html = cluster_html(ui_state(request))
    body = f'<h1>Cluster</h1><div id="cluster" data-live="/live/cluster">{html}</div>'
    return page(request, "Cluster", body, "/cluster")


def cluster_html(state: UIState) -> str:
    """The page's sections, as of now."""
    from ..gql.schema import queue_rows

    now = cluster_now(state)
    queue_html = "".join(
        f'<tr class="{"orphan" if q.depth and not q.consumers else ""}">'
        f"<td class='mono'>{h(q.name)}</td><td>{q.depth}</td>"
        f"<td>{h(', '.join(q.consumers)) or '<b>no consumer</b>'}</td></tr>"
        for q in queue_rows(state)
    )
    return (
        _workers_html(now.workers)
        + f"<section><h2>Queues</h2><table><thead><tr><th>Queue</th><th>Waiting steps</th>"
        f"<th>Consumers</th></tr></thead><tbody>{queue_html}</tbody></table></section>"
        + _coordinators_html(now)
    )


def _workers_html(workers: list[WorkerNow]) -> str:
    rows = "".join(_worker_row(w) for w in workers) or (
        '<tr><td colspan="6" class="muted">No live worker.</td></tr>'
    )
    busy = sum(len(w.running) for w in workers)
    slots = sum(w.concurrency or 0 for w in workers)
    return (
        f'<section><h2>Workers ({len(workers)})</h2><p class="muted" id="slots">'
        f"{busy} of {slots} pool slots busy</p><table class='workers'><thead><tr>"
        "<th>Worker</th><th>Host</th><th>PID</th><th>Queues</th><th>Concurrency</th>"
        f"<th>Running now</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _worker_row(worker: WorkerNow) -> str:
    queues = " ".join(f"<span class=chip>{h(q)}</span>" for q in worker.queues)
    pool = f' <span class="muted">{h(worker.pool)}</span>' if worker.pool else ""
    concurrency = "—" if worker.concurrency is None else f"{worker.concurrency}{pool}"
    running = "".join(_step_html(s) for s in worker.running) or '<span class="muted">idle</span>'
    return (
        f'<tr data-worker="{h(worker.hostname)}"><td class="mono">{h(worker.hostname)}</td>'
        f"<td>{h(worker.host)}</td><td class='mono'>{h(worker.pid or '—')}</td>"
        f"<td>{queues}</td><td class='concurrency'>{concurrency}</td>"
        f"<td class='running'>{running}</td></tr>"
    )


def _step_html(step: StepNow) -> str:
    return (
        f'<div class="now" data-run="{h(step.run_id)}" data-step="{h(step.step_key)}">'
        f'<a class="mono" href="/runs/{h(step.run_id)}">{h(step.run_id[:8])}</a> '
        f"{h(step.job_name)} · <span class='mono'>{h(step.step_key)}</span> · attempt "
        f"{step.attempt} · <span class='elapsed'>{_elapsed(step.elapsed_s)}</span>"
        f' <span class="muted">pid {step.pid}</span></div>'
    )


def _elapsed(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(seconds), 60)
    return (
        f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"
    )


def _coordinators_html(now: ClusterNow) -> str:
    rows = (
        "".join(
            f'<tr data-coordinator="{h(c.id)}"><td class="mono">{h(c.id)}'
            f"{' <span class=chip>scheduler leader</span>' if c.id == now.scheduler_leader else ''}"
            f"</td><td>{len(c.runs)}</td><td>{_run_links(c.runs)}</td></tr>"
            for c in now.coordinators
        )
        or '<tr><td colspan="3" class="muted">No live coordinator: queued runs will wait.</td></tr>'
    )
    if now.unowned_runs:
        rows += (
            f'<tr class="orphan"><td><b>no lease</b> (waiting to be adopted)</td>'
            f"<td>{len(now.unowned_runs)}</td><td>{_run_links(now.unowned_runs)}</td></tr>"
        )
    leader = h(now.scheduler_leader) if now.scheduler_leader else "none"
    return (
        f"<section><h2>Coordinators ({len(now.coordinators)})</h2><table><thead><tr>"
        "<th>Coordinator</th><th>Leased runs</th><th>Runs</th></tr></thead>"
        f"<tbody>{rows}</tbody></table><p id='scheduler'>Scheduler leader: "
        f"<span class='mono'>{leader}</span></p></section>"
    )


def _run_links(run_ids: list[str], most: int = 20) -> str:
    links = " ".join(f'<a class="mono" href="/runs/{h(r)}">{h(r[:8])}</a>' for r in run_ids[:most])
    return links + (f" … {len(run_ids) - most} more" if len(run_ids) > most else "")
