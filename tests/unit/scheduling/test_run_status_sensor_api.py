"""@run_status_sensor and @run_failure_sensor: definitions and direct invocation with a
context built from a real run, as Dagster's unit tests of such sensors do."""

from __future__ import annotations

import pytest

from opgrid import (
    DagsterEventType,
    DagsterInvalidInvocationError,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunRequest,
    RunStatusSensorContext,
    RunStatusSensorDefinition,
    SkipReason,
    build_run_status_sensor_context,
    build_sensor_context,
    job,
    op,
    run_failure_sensor,
    run_status_sensor,
)


@op
def emit():
    return 1


@op
def explode():
    raise ValueError("bad op")


@job
def upstream():
    emit()


@job
def failing():
    explode()


@job
def downstream():
    emit()


@run_status_sensor(run_status=DagsterRunStatus.SUCCESS, request_job=downstream)
def after_upstream(context):
    return RunRequest(
        run_key=context.dagster_run.run_id, tags={"from": context.dagster_run.job_name}
    )


seen = []


@run_failure_sensor
def on_failure(context):
    seen.append(
        (
            type(context).__name__,
            context.dagster_run.job_name,
            context.failure_event.event_type_value,
            [e.step_key for e in context.get_step_failure_events()],
        )
    )


def _run_event(result, kind):
    return next(e for e in result.all_events if e.kind is kind)


def test_a_run_status_sensor_is_a_sensor_of_its_request_job():
    assert isinstance(after_upstream, RunStatusSensorDefinition)
    assert (after_upstream.name, after_upstream.job_name) == ("after_upstream", "downstream")
    assert after_upstream.minimum_interval_seconds == 30
    assert after_upstream.default_status is DefaultSensorStatus.STOPPED
    assert after_upstream.run_status is DagsterRunStatus.SUCCESS
    assert on_failure.name == "on_failure"
    assert on_failure.run_status is DagsterRunStatus.FAILURE


def test_invoking_with_a_context_of_a_real_run_returns_what_the_function_returns():
    result = upstream.execute_in_process()
    context = build_run_status_sensor_context(
        sensor_name="after_upstream",
        dagster_instance=None,
        dagster_run=result.dagster_run,
        dagster_event=_run_event(result, DagsterEventType.RUN_SUCCESS),
    )
    assert isinstance(context, RunStatusSensorContext)
    assert after_upstream(context) == RunRequest(run_key=result.run_id, tags={"from": "upstream"})


def test_a_failure_sensor_gets_a_failure_context():
    seen.clear()
    result = failing.execute_in_process(raise_on_error=False)
    context = build_run_status_sensor_context(
        sensor_name="on_failure",
        dagster_instance=None,
        dagster_run=result.dagster_run,
        dagster_event=_run_event(result, DagsterEventType.RUN_FAILURE),
    )
    assert on_failure(context) is None
    assert on_failure(context.for_run_failure()) is None
    assert seen == [("RunFailureSensorContext", "failing", "PIPELINE_FAILURE", [])] * 2
    assert isinstance(context.for_run_failure(), RunFailureSensorContext)


def test_monitored_jobs_limit_which_runs_the_sensor_watches():
    @run_status_sensor(run_status=DagsterRunStatus.SUCCESS, monitored_jobs=[upstream])
    def only_upstream(context):
        return SkipReason("x")

    assert only_upstream.watches("upstream", DagsterRunStatus.SUCCESS)
    assert not only_upstream.watches("downstream", DagsterRunStatus.SUCCESS)
    assert not only_upstream.watches("upstream", DagsterRunStatus.FAILURE)
    assert after_upstream.watches("anything", DagsterRunStatus.SUCCESS)


def test_run_status_is_required():
    with pytest.raises(TypeError):
        run_status_sensor()(lambda context: None)


def test_a_run_status_sensor_is_not_evaluated_like_a_plain_sensor():
    with pytest.raises(DagsterInvalidInvocationError, match="evaluate_for_run"):
        after_upstream.evaluate_tick(build_sensor_context())


def test_invoking_without_a_run_status_context_is_refused():
    with pytest.raises(DagsterInvalidInvocationError, match="RunStatusSensorContext"):
        after_upstream(build_sensor_context())
