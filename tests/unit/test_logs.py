"""Log lines name their run and step: the text and JSON formatters and ``log_context``."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from opgrid.orchestrator.cli import main
from opgrid.orchestrator.logs import (
    JsonFormatter,
    RunContextFilter,
    TextFormatter,
    log_context,
    stream_handler,
    switch_format,
    use_format,
)


@pytest.fixture
def capture() -> Iterator[tuple[logging.Logger, logging.StreamHandler[io.StringIO]]]:
    """A logger of its own whose lines go to a string; the handler's format is the test's."""
    logger = logging.getLogger(f"opgrid.test_logs.{id(object())}")
    handler = logging.StreamHandler(io.StringIO())
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, handler
    logger.removeHandler(handler)


def _lines(handler: logging.StreamHandler[io.StringIO]) -> list[str]:
    return handler.stream.getvalue().splitlines()


def test_json_lines_parse_and_carry_the_run_and_step_of_the_enclosing_context(capture):
    logger, handler = capture
    handler.setFormatter(JsonFormatter())

    with log_context(run_id="run-1", step_key="add_one"):
        logger.info("step %s started", "add_one")
    logger.warning("between runs")

    inside, outside = (json.loads(line) for line in _lines(handler))
    assert inside["message"] == "step add_one started"
    assert inside["level"] == "INFO"
    assert inside["logger"] == logger.name
    assert (inside["run_id"], inside["step_key"]) == ("run-1", "add_one")
    assert inside["ts"].endswith("Z") and "T" in inside["ts"]
    assert (outside["run_id"], outside["step_key"]) == (None, None)
    assert outside["level"] == "WARNING"


def test_json_lines_keep_extra_fields_and_the_traceback_on_one_line(capture):
    logger, handler = capture
    handler.setFormatter(JsonFormatter())

    try:
        raise ValueError("boom")
    except ValueError:
        logger.error("failed", exc_info=True, extra={"run_id": "r", "attempt": 2, "obj": object()})

    (line,) = _lines(handler)
    record = json.loads(line)
    assert record["run_id"] == "r" and record["step_key"] is None
    assert record["attempt"] == 2
    assert record["obj"].startswith("<object object")  # not JSON: written as str()
    assert "ValueError: boom" in record["exc_info"]


def test_contexts_nest_and_explicit_extra_wins(capture):
    logger, handler = capture
    handler.setFormatter(JsonFormatter())

    with log_context(run_id="run-1"):
        logger.info("run")
        with log_context(step_key="a"):
            logger.info("step a")
            logger.info("step b", extra={"step_key": "b"})
        logger.info("run again")

    fields = [(r["run_id"], r["step_key"]) for r in map(json.loads, _lines(handler))]
    assert fields == [("run-1", None), ("run-1", "a"), ("run-1", "b"), ("run-1", None)]


def test_a_context_belongs_to_its_thread(capture):
    logger, handler = capture
    handler.setFormatter(JsonFormatter())

    with log_context(run_id="main-run"):
        thread = threading.Thread(target=logger.info, args=("from another thread",))
        thread.start()
        thread.join()

    (line,) = _lines(handler)
    assert json.loads(line)["run_id"] is None


def test_text_lines_end_with_the_run_and_step_before_any_traceback(capture):
    logger, handler = capture
    handler.setFormatter(TextFormatter("%(levelname)s %(message)s"))

    logger.info("no run here")
    with log_context(run_id="run-1", step_key="add_one"):
        try:
            raise RuntimeError("bad")
        except RuntimeError:
            logger.exception("it failed")

    lines = _lines(handler)
    assert lines[0] == "INFO no run here"
    assert lines[1] == "ERROR it failed run_id=run-1 step_key=add_one"
    assert lines[2] == "Traceback (most recent call last):"
    assert lines[-1] == "RuntimeError: bad"


def test_text_lines_can_keep_another_formatters_layout(capture):
    logger, handler = capture
    use_format(handler, "text", keep_base=False)
    handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))

    use_format(handler, "text", keep_base=True)
    with log_context(run_id="r"):
        logger.info("kept")

    assert _lines(handler) == ["[INFO] kept run_id=r"]
    assert sum(isinstance(f, RunContextFilter) for f in handler.filters) == 1


def test_the_filter_gives_other_formatters_the_fields(capture):
    logger, handler = capture
    handler.setFormatter(logging.Formatter("%(run_id)s/%(step_key)s %(message)s"))
    handler.addFilter(RunContextFilter())

    with log_context(run_id="run-9", step_key="s"):
        logger.info("hello")

    assert _lines(handler) == ["run-9/s hello"]


def test_switch_format_changes_only_the_handlers_opgrid_set_up():
    ours = stream_handler("text", "%(message)s")
    theirs = logging.StreamHandler(io.StringIO())
    plain = logging.Formatter("%(message)s")
    theirs.setFormatter(plain)
    logger = logging.Logger("opgrid.test_logs.switch")
    logger.addHandler(ours)
    logger.addHandler(theirs)

    switch_format(logger, "json", "%(message)s")

    assert isinstance(ours.formatter, JsonFormatter)
    assert theirs.formatter is plain


def test_an_unknown_log_format_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown log format 'xml'"):
        use_format(logging.NullHandler(), "xml")
    result = CliRunner().invoke(main, ["coordinator", "--log-format", "xml"])
    assert result.exit_code == 2
    assert "'xml' is not one of 'text', 'json'" in result.output


def test_celery_s_own_task_lines_name_the_run_and_step_from_the_task_id() -> None:
    record = logging.LogRecord(
        "celery.app.trace",
        logging.INFO,
        __file__,
        1,
        "Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s",
        (
            {
                "name": "run=r1 job=j step=outer.a[k]",
                "id": "r1:outer.a[k]:2",
                "runtime": 0.1,
                "return_value": "'success'",
            },
        ),
        None,
    )
    line = json.loads(JsonFormatter().format(record))
    assert (line["run_id"], line["step_key"]) == ("r1", "outer.a[k]")
