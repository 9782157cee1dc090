"""Service log lines that say which run and step they concern, as text or JSON.

Code that works for one run or step wraps the work in ``log_context(run_id=...,
step_key=...)``; every record logged meanwhile, in that thread or task, carries
those fields, without each call passing ``extra=``:

- ``TextFormatter`` writes a line as another formatter would, then
  `` run_id=... step_key=...`` when the record has them;
- ``JsonFormatter`` writes one JSON object per line: ``ts`` (UTC, ISO 8601),
  ``level``, ``logger``, ``message``, ``run_id``, ``step_key`` (null outside a run),
  any other ``extra=`` field, and ``exc_info`` when there is a traceback;
- ``RunContextFilter`` copies the fields onto records for any other formatter.

Only entry points choose a format (``opgrid coordinator`` through ``service_logging``,
the worker through Celery's logging signals); library code never configures logging.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import json
import logging
from collections.abc import Iterator
from typing import Any

#: What ``--log-format`` and ``OPGRID_LOG_FORMAT`` accept.
LOG_FORMATS = ("text", "json")
#: The fields of a run's context, in the order lines show them.
CONTEXT_FIELDS = ("run_id", "step_key")

#: The fields of the enclosing ``log_context`` blocks, as (name, value) pairs.
_context: contextvars.ContextVar[tuple[tuple[str, str], ...]] = contextvars.ContextVar(
    "opgrid_log_context", default=()
)
#: Attributes every ``LogRecord`` has; the others came from ``extra=``.
_RECORD_FIELDS = frozenset(
    [*logging.LogRecord("", 0, "", 0, "", None, None).__dict__, "message", "asctime", "taskName"]
)


@contextlib.contextmanager
def log_context(**fields: str | None) -> Iterator[None]:
    """Records logged inside the block carry ``fields`` (None values are left out)."""
    merged = {**dict(_context.get()), **{k: v for k, v in fields.items() if v is not None}}
    token = _context.set(tuple(merged.items()))
    try:
        yield
    finally:
        _context.reset(token)


def context_of(record: logging.LogRecord) -> dict[str, Any]:
    """The run context of a record: ``extra=`` fields win over the enclosing block's,
    which win over what Celery's own task lines name (the task id)."""
    found: dict[str, Any] = {**_celery_task_context(record), **dict(_context.get())}
    for name in CONTEXT_FIELDS:
        value = getattr(record, name, None)
        if value is not None:
            found[name] = value
    return found


def _celery_task_context(record: logging.LogRecord) -> dict[str, str]:
    """Celery logs ``Task <name>[<id>] received/succeeded`` with the id in its args; a
    step's task id is ``<run id>:<step key>:<attempt>`` (``dispatch.task_id``)."""
    args = record.args
    task_id = args.get("id") if isinstance(args, dict) else None
    if not isinstance(task_id, str) or task_id.count(":") < 2:
        return {}
    run_id, rest = task_id.split(":", 1)
    return {"run_id": run_id, "step_key": rest.rsplit(":", 1)[0]}


class RunContextFilter(logging.Filter):
    """Sets ``run_id`` and ``step_key`` on each record from the enclosing ``log_context``."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _context.get():
            if getattr(record, name, None) is None:
                setattr(record, name, value)
        return True


class TextFormatter(logging.Formatter):
    """A line as ``base`` (or ``fmt``) writes it, then `` run_id=... step_key=...``.

    The fields go at the end of the first line, before any traceback.
    """

    def __init__(
        self,
        fmt: str | None = None,
        datefmt: str | None = None,
        base: logging.Formatter | None = None,
    ) -> None:
        super().__init__(fmt, datefmt)
        self.base = base

    def format(self, record: logging.LogRecord) -> str:
        line = self.base.format(record) if self.base is not None else super().format(record)
        context = context_of(record)
        suffix = " ".join(f"{name}={context[name]}" for name in CONTEXT_FIELDS if name in context)
        if not suffix:
            return line
        head, newline, rest = line.partition("\n")
        return f"{head} {suffix}{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.datetime.fromtimestamp(record.created, tz=datetime.timezone.utc)
        line: dict[str, Any] = {
            "ts": stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = context_of(record)
        for name in CONTEXT_FIELDS:
            line[name] = context.get(name)
        for name, value in record.__dict__.items():
            if name not in _RECORD_FIELDS and name not in line:
                line[name] = value
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def formatter(
    log_format: str, fmt: str | None = None, base: logging.Formatter | None = None
) -> logging.Formatter:
    """The formatter of ``log_format``: JSON, or text in ``fmt`` (or ``base``'s format)."""
    if log_format == "json":
        return JsonFormatter()
    if log_format == "text":
        return TextFormatter(fmt, base=base)
    raise ValueError(f"unknown log format {log_format!r} (expected one of {LOG_FORMATS})")


def use_format(
    handler: logging.Handler, log_format: str, fmt: str | None = None, keep_base: bool = False
) -> None:
    """Make ``handler`` write ``log_format`` lines with the run context.

    Args:
        handler: a handler an entry point set up.
        log_format: ``text`` or ``json``.
        fmt: the text format; with ``keep_base``, the handler's formatter writes the
            text and the context is appended to its lines.
        keep_base: keep the handler's own formatter for text lines (Celery's colours,
            task names).
    """
    base = handler.formatter if keep_base and not isinstance(handler.formatter, _OURS) else None
    handler.setFormatter(formatter(log_format, fmt, base))
    if not any(isinstance(existing, RunContextFilter) for existing in handler.filters):
        handler.addFilter(RunContextFilter())


def stream_handler(log_format: str, fmt: str) -> logging.Handler:
    """A stderr handler that writes ``log_format`` lines with the run context."""
    handler = logging.StreamHandler()
    use_format(handler, log_format, fmt)
    return handler


def switch_format(logger: logging.Logger, log_format: str, fmt: str) -> None:
    """Handlers of ``logger`` set up by ``stream_handler`` now write ``log_format`` lines.

    Handlers that someone else set up (a test runner's, say) are left alone.
    """
    for handler in logger.handlers:
        if isinstance(handler.formatter, _OURS):
            use_format(handler, log_format, fmt)


_OURS = (TextFormatter, JsonFormatter)
