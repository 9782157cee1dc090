"""The run page's timeline: one row per step attempt, queue wait then run, as SVG."""

from __future__ import annotations

import time
from html import escape

from ..run_view import Attempt, RunView

#: Row height and the width of the label column and of the time axis, in pixels.
ROW_H = 18
LABEL_W = 300
AXIS_W = 640
#: Most attempts drawn (the rest are counted).
MAX_ROWS = 1500


def _span(view: RunView, now: float) -> tuple[float, float]:
    starts = [a.due_at or a.started_at for a in view.attempts if (a.due_at or a.started_at)]
    start = min([view.record.started_at or view.record.created_at, *[s for s in starts if s]])
    ends = [a.ended_at for a in view.attempts if a.ended_at]
    end = view.record.finished_at or max([now, *ends])
    return start, max(end, start + 0.001)


def _label(attempt: Attempt) -> str:
    text = attempt.step_key + (f" #{attempt.number}" if attempt.number else "")
    return text if len(text) <= 40 else text[:39] + "…"


def _title(attempt: Attempt) -> str:
    parts = [f"{attempt.step_key} attempt {attempt.number}: {attempt.outcome}"]
    if attempt.queue_wait_s is not None:
        parts.append(f"queue wait {attempt.queue_wait_s:.3f} s")
    if attempt.started_at and attempt.ended_at:
        parts.append(f"ran {attempt.ended_at - attempt.started_at:.3f} s")
    if attempt.host:
        parts.append(f"worker {attempt.host} pid {attempt.pid}")
    parts.extend(attempt.redeliveries)
    return "\n".join(parts)


def render(view: RunView, now: float | None = None) -> str:
    """The timeline SVG of every attempt (escaped; safe to embed)."""
    now = now or time.time()
    if not view.attempts:
        return '<p class="muted">No step has started yet.</p>'
    start, end = _span(view, now)
    scale = AXIS_W / (end - start)
    rows = view.attempts[:MAX_ROWS]
    height = ROW_H * len(rows) + 24
    width = LABEL_W + AXIS_W + 10
    parts = [
        f'<svg class="gantt" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">',
        _axis(start, end, scale, height),
    ]
    for index, attempt in enumerate(rows):
        parts.append(_row(attempt, index, start, scale, now))
    parts.append("</svg>")
    more = len(view.attempts) - len(rows)
    note = f'<p class="muted">{more} more attempts not drawn.</p>' if more > 0 else ""
    return "".join(parts) + note


def _axis(start: float, end: float, scale: float, height: int) -> str:
    ticks = []
    total = end - start
    for i in range(5):
        x = LABEL_W + i * AXIS_W / 5
        ticks.append(
            f'<line class="tick" x1="{x:.0f}" y1="14" x2="{x:.0f}" y2="{height}"/>'
            f'<text class="axis" x="{x + 2:.0f}" y="11">+{_offset(total * i / 5)}</text>'
        )
    return "".join(ticks)


def _offset(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _row(attempt: Attempt, index: int, start: float, scale: float, now: float) -> str:
    y = 20 + index * ROW_H
    parts = [
        f'<g class="attempt {escape(attempt.outcome)}" data-step="{escape(attempt.step_key)}">'
    ]
    parts.append(f"<title>{escape(_title(attempt))}</title>")
    host = f" · {attempt.host}/{attempt.pid}" if attempt.host else ""
    label = escape(_label(attempt) + host)
    parts.append(f'<text class="label" x="4" y="{y + 12}">{label}</text>')
    began = attempt.started_at or attempt.ended_at or now
    if attempt.due_at is not None and attempt.due_at < began:
        x = LABEL_W + (attempt.due_at - start) * scale
        w = max(1.0, (began - attempt.due_at) * scale)
        parts.append(f'<rect class="wait" x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="11"/>')
    if attempt.started_at is not None:
        stop = attempt.ended_at or now
        x = LABEL_W + (attempt.started_at - start) * scale
        w = max(2.0, (stop - attempt.started_at) * scale)
        parts.append(f'<rect class="bar" x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="13"/>')
    if attempt.redeliveries:
        parts.append(f'<text class="flag" x="{LABEL_W - 14}" y="{y + 12}">↻</text>')
    parts.append("</g>")
    return "".join(parts)
