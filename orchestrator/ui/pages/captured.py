"""What step attempts printed: the run page's list of captured stdout and stderr, and the
page that shows one stream of one attempt (``/runs/<run>/steps/<step>/stdout?attempt=N``)."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from ..actions import ui_state
from ..cluster import RunNotFound
from ..redact import redact_text
from ..run_view import RunView
from ..state import UIState
from .layout import h, page

#: The streams a worker captures.
STREAMS = ("stdout", "stderr")
#: Most attempts listed on the run page.
MAX_LISTED = 500


def captured_url(run_id: str, step_key: str, stream: str, attempt: int) -> str:
    return f"/runs/{quote(run_id)}/steps/{quote(step_key, safe='')}/{stream}?attempt={attempt}"


def captured_html(state: UIState, view: RunView) -> str:
    """A row per step attempt that printed something, with a link to each stream."""
    run_id = view.record.run_id
    attempts = state.cluster.store.captured_attempts(run_id)
    if not attempts:
        return '<p class="muted">No step printed anything (yet).</p>'
    rows = []
    for step_key, attempt in attempts[:MAX_LISTED]:
        links = " · ".join(
            f'<a href="{h(captured_url(run_id, step_key, stream, attempt))}">{stream}</a>'
            for stream in STREAMS
        )
        rows.append(
            f"<tr><td class='mono'>{h(step_key)}</td><td>{attempt}</td><td>{links}</td></tr>"
        )
    return (
        '<table id="captured"><thead><tr><th>Step</th><th>Attempt</th><th>Printed</th></tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def captured_page(request: Request) -> Response:
    """One stream of one step attempt (the latest attempt without ``?attempt=``)."""
    state = ui_state(request)
    run_id = request.path_params["run_id"]
    step_key = request.path_params["step_key"]
    stream = request.path_params["stream"]
    attempt_text = request.query_params.get("attempt", "")
    if stream not in STREAMS or not (attempt_text.isdigit() or attempt_text == ""):
        return _missing(request, f"no such output: {stream!r}, attempt {attempt_text!r}")
    attempt = int(attempt_text) if attempt_text else None
    try:
        state.cluster.store.get_run(run_id)
    except RunNotFound as exc:
        return _missing(request, str(exc))
    captured = state.cluster.store.get_captured(run_id, step_key, attempt)
    if captured is None:
        which = f"attempt {attempt} of step" if attempt is not None else "step"
        return _missing(request, f"{which} {step_key!r} of run {run_id} printed nothing (yet)")
    text = captured.text("stdout" if stream == "stdout" else "stderr")
    other = "stderr" if stream == "stdout" else "stdout"
    body = (
        f'<h1><span class="mono">{h(step_key)}</span> {stream}, attempt {captured.attempt}</h1>'
        f'<p>Run <a href="/runs/{h(run_id)}" class="mono">{h(run_id)}</a> · '
        f'<a href="{h(captured_url(run_id, step_key, other, captured.attempt))}">{other}</a></p>'
        f'<pre id="captured-text">{h(redact_text(text))}</pre>'
    )
    return page(request, f"{step_key} {stream}", body, "/runs")


def _missing(request: Request, message: str) -> Response:
    body = f"<h1>No captured output</h1><p>{h(message)}</p>"
    return page(request, "No captured output", body, "/runs", status=404)
