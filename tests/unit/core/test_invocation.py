"""Calling ops directly (unit-testing style) and loading code locations."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from opgrid import (
    Config,
    DagsterInvalidInvocationError,
    DagsterInvariantViolationError,
    Definitions,
    build_op_context,
    job,
    load_code_location,
    op,
    repository,
)


@op
def add(a: int, b: int = 2) -> int:
    return a + b


@op(config_schema={"factor": int}, required_resource_keys={"base"})
def scaled(context, x: int) -> int:
    return context.resources.base + x * context.op_config["factor"]


class Greeting(Config):
    name: str = "world"


@op
def greet(config: Greeting) -> str:
    return f"hello {config.name}"


def test_op_called_directly_runs_its_function():
    assert add(1) == 3
    assert add(1, b=5) == 6


def test_op_with_context_takes_a_built_context():
    context = build_op_context(resources={"base": 100}, op_config={"factor": 3})
    assert scaled(context, 2) == 106


def test_direct_invocation_validates_config_and_arguments():
    with pytest.raises(DagsterInvalidInvocationError, match="add"):
        add(1, 2, 3)
    with pytest.raises(DagsterInvalidInvocationError, match='input "a"'):
        add()
    with pytest.raises(Exception, match="factor"):
        scaled(build_op_context(resources={"base": 1}, op_config={}), 1)


def test_op_with_config_class_gets_its_defaults_when_called_directly():
    assert greet() == "hello world"
    assert greet(build_op_context(op_config={"name": "opgrid"})) == "hello opgrid"


def _write(tmp_path: Path, body: str) -> str:
    path = tmp_path / "location.py"
    path.write_text(textwrap.dedent(body))
    return str(path)


def test_code_location_prefers_definitions(tmp_path):
    file = _write(
        tmp_path,
        """
        from opgrid import Definitions, job, op

        @op
        def a():
            return 1

        @job
        def first():
            a()

        @job
        def unlisted():
            a()

        defs = Definitions(jobs=[first])
        """,
    )
    location = load_code_location(file=file)
    assert list(location.jobs) == ["first"]
    assert location.get_job("first").name == "first"
    with pytest.raises(DagsterInvariantViolationError, match="unlisted"):
        location.get_job("unlisted")


def test_code_location_falls_back_to_module_level_jobs(tmp_path):
    file = _write(
        tmp_path,
        """
        from opgrid import job, op

        @op
        def a():
            return 1

        @job
        def only():
            a()
        """,
    )
    assert list(load_code_location(file=file).jobs) == ["only"]


def test_code_location_without_jobs_is_a_clear_error(tmp_path):
    file = _write(tmp_path, "x = 1\n")
    with pytest.raises(DagsterInvariantViolationError, match="no Definitions"):
        load_code_location(file=file)
    with pytest.raises(DagsterInvariantViolationError, match="does not exist"):
        load_code_location(file=str(tmp_path / "missing.py"))


def test_definitions_refuses_a_job_whose_resources_nobody_provides():
    @op(required_resource_keys={"db"})
    def needs_db() -> None:
        return None

    @job
    def orphan():
        needs_db()

    with pytest.raises(Exception, match="db"):
        Definitions(jobs=[orphan])
    bound = Definitions(jobs=[orphan], resources={"db": object()})
    assert bound.get_job_def("orphan").execute_in_process().success


def test_repository_lists_jobs_by_name():
    @job
    def b_job():
        add()

    @repository
    def repo():
        return [b_job]

    assert repo.has_job("b_job")
    assert [j.name for j in repo.get_all_jobs()] == ["b_job"]


def test_built_context_keeps_generator_resources_alive_until_it_exits():
    from opgrid import resource

    events: list[str] = []

    @resource
    def connection(_init):
        events.append("open")
        yield "conn"
        events.append("close")

    @op(required_resource_keys={"conn"})
    def use(context) -> str:
        return context.resources.conn

    with build_op_context(resources={"conn": connection}) as context:
        assert use(context) == "conn"
        assert events == ["open"]
    assert events == ["open", "close"]
