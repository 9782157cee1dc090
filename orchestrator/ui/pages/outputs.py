"""The run page's outputs: a preview of each small stored value, the size of large ones."""

from __future__ import annotations

import logging

from ..cluster import DagsterEventType, ValueRef
from ..redact import redact_text, redacted
from ..run_view import RunView
from ..state import UIState
from .layout import h

logger = logging.getLogger(__name__)

#: Stored values at most this large (bytes) are loaded and previewed on the run page.
PREVIEW_BYTES = 4096
#: Longest preview shown.
PREVIEW_CHARS = 200
#: Most outputs listed (the first ones produced; the rest are counted).
MAX_OUTPUTS = 200
E = DagsterEventType


def outputs_html(state: UIState, view: RunView) -> str:
    """The outputs table: a preview of each small value, the size of each large one."""
    reused = [
        ValueRef(key, output, mapping_key)
        for key, outputs in view.record.reused.items()
        for output, mapping_keys in outputs.items()
        for mapping_key in mapping_keys
    ]
    refs = reused + [
        ValueRef(e.step_key, e.output_name, e.mapping_key)
        for _, e in view.events
        if e.kind is E.STEP_OUTPUT and e.step_key and e.output_name
    ]
    if not refs:
        return '<p class="muted">No output yet.</p>'
    more = len(refs) - MAX_OUTPUTS
    refs = refs[:MAX_OUTPUTS]
    datas = state.cluster.store.load_outputs(view.record.run_id, refs)
    rows = []
    for ref, data in zip(refs, datas, strict=True):
        where = f"{ref.step_key}.{ref.output}" + (f"[{ref.mapping_key}]" if ref.mapping_key else "")
        note = ' <span class="muted">(reused from the parent run)</span>' if ref in reused else ""
        rows.append(
            f"<tr><td class='mono'>{h(where)}{note}</td><td>{_size(data)}</td>"
            f"<td class='mono'>{h(_preview(state, data, where))}</td></tr>"
        )
    note = f'<p class="muted">{more} more outputs not listed.</p>' if more > 0 else ""
    return (
        "<table><thead><tr><th>Output</th><th>Size</th><th>Preview</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>{note}"
    )


def _size(data: bytes | None) -> str:
    if data is None:
        return "expired"
    size = len(data)
    return f"{size} B" if size < 10_000 else f"{size / 1024:.1f} KiB"


def _preview(state: UIState, data: bytes | None, where: str) -> str:
    if data is None or len(data) > PREVIEW_BYTES:
        return "" if data is None else "(large: not loaded)"
    try:
        value = state.cluster.load_value(data, where)
    except Exception as exc:  # user types that do not load here: say so, keep the page
        logger.info("cannot preview %s: %s", where, exc, exc_info=True)
        return f"(cannot preview: {type(exc).__name__})"
    text = redact_text(repr(redacted(value)))
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"
