"""SensorDefinition and @sensor: cursors, run requests, SensorResult and the errors of
evaluate_tick, pinned to what Dagster 1.13 does with the same code."""

from __future__ import annotations

import pytest

from opgrid import (
    DagsterInvalidDefinitionError,
    DagsterInvalidInvocationError,
    DagsterInvariantViolationError,
    DagsterUnknownPartitionError,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    build_sensor_context,
    job,
    op,
    sensor,
    static_partitioned_config,
)


@op
def emit():
    return 1


@job
def files_job():
    emit()


@job
def other_job():
    emit()


@static_partitioned_config(partition_keys=["us", "eu"])
def region_config(partition_key):
    return {"region": partition_key}


@job(config=region_config)
def regional():
    emit()


@sensor(job=files_job)
def counter(context):
    start = int(context.cursor or 0)
    for i in range(start, start + 2):
        yield RunRequest(run_key=f"file_{i}")
    context.update_cursor(str(start + 2))


def test_a_sensor_takes_its_defaults_from_dagster():
    assert (counter.name, counter.job_name, counter.minimum_interval_seconds) == (
        "counter",
        "files_job",
        30,
    )
    assert counter.default_status is DefaultSensorStatus.STOPPED
    assert counter.job is files_job


def test_invoking_a_sensor_runs_its_function_against_the_context_cursor():
    context = build_sensor_context(cursor="3")
    assert [r.run_key for r in counter(context)] == ["file_3", "file_4"]
    assert context.cursor == "5"
    assert context.cursor_updated


def test_evaluating_a_sensor_returns_its_requests_tagged_and_the_new_cursor():
    data = counter.evaluate_tick(build_sensor_context(cursor="3"))
    assert [(r.run_key, r.tags) for r in data.run_requests] == [
        ("file_3", {"dagster/sensor_name": "counter"}),
        ("file_4", {"dagster/sensor_name": "counter"}),
    ]
    assert data.cursor == "5"
    assert data.skip_message is None


def test_a_cursor_that_is_not_updated_is_kept():
    @sensor(job=files_job)
    def idle(context):
        return SkipReason("nothing new")

    data = idle.evaluate_tick(build_sensor_context(cursor="3"))
    assert (data.skip_message, data.cursor) == ("nothing new", "3")
    assert idle.evaluate_tick(build_sensor_context()).cursor is None


def test_a_sensor_result_carries_requests_and_cursor():
    @sensor(job=files_job)
    def resulting(context):
        return SensorResult(run_requests=[RunRequest(run_key="x")], cursor="c9")

    assert isinstance(resulting(build_sensor_context()), SensorResult)
    data = resulting.evaluate_tick(build_sensor_context())
    assert [r.run_key for r in data.run_requests] == ["x"]
    assert data.cursor == "c9"


def test_a_sensor_result_may_skip_and_still_move_the_cursor():
    @sensor(job=files_job)
    def skipping(context):
        return SensorResult(skip_reason="meh", cursor="q")

    data = skipping.evaluate_tick(build_sensor_context())
    assert (data.run_requests, data.skip_message, data.cursor) == ([], "meh", "q")


def test_a_sensor_result_cursor_and_update_cursor_do_not_mix():
    @sensor(job=files_job)
    def both(context):
        context.update_cursor("z")
        return SensorResult(run_requests=[], cursor="c9")

    with pytest.raises(DagsterInvariantViolationError) as caught:
        both.evaluate_tick(build_sensor_context())
    assert str(caught.value) == (
        "SensorResult.cursor cannot be set if context.update_cursor() was called."
    )


def test_a_sensor_result_cannot_both_request_and_skip():
    with pytest.raises(DagsterInvariantViolationError, match="received values for both"):
        SensorResult(run_requests=[RunRequest()], skip_reason="x")


def test_empty_results_skip_with_dagsters_message():
    @sensor(job=files_job)
    def returns_none(context):
        return None

    @sensor(job=files_job)
    def yields_nothing(context):
        yield from ()

    for empty in (returns_none, yields_nothing):
        data = empty.evaluate_tick(build_sensor_context())
        assert (data.run_requests, data.skip_message) == (
            [],
            "Sensor function returned an empty result",
        )


def test_a_skip_reason_without_a_message_skips_silently():
    @sensor(job=files_job, minimum_interval_seconds=60)
    def quiet(context):
        return SkipReason()

    assert quiet.minimum_interval_seconds == 60
    data = quiet.evaluate_tick(build_sensor_context())
    assert (data.run_requests, data.skip_message) == ([], None)


def test_a_multi_job_sensor_requests_runs_by_job_name():
    @sensor(jobs=[files_job, other_job])
    def fan(context):
        yield RunRequest(run_key="1", job_name="other_job")

    [request] = fan.evaluate_tick(build_sensor_context()).run_requests
    assert request.job_name == "other_job"
    assert fan.jobs == [files_job, other_job]
    with pytest.raises(DagsterInvalidDefinitionError) as caught:
        _ = fan.job_name
    assert str(caught.value) == (
        "job_name property not available when SensorDefinition has multiple jobs."
    )


@pytest.mark.parametrize(
    ("targets", "request_job", "message"),
    [
        (
            {"jobs": [files_job, other_job]},
            None,
            "Error in sensor s: Sensor returned a RunRequest that did not specify job_name for "
            "the requested run. Expected one of: ['files_job', 'other_job']",
        ),
        (
            {"jobs": [files_job, other_job]},
            "zzz",
            "Error in sensor s: Sensor returned a RunRequest with job_name zzz. Expected one "
            "of: ['files_job', 'other_job']",
        ),
        (
            {"job": files_job},
            "other",
            "Error in sensor s: Sensor returned a RunRequest with job_name other. Expected one "
            "of: ['files_job']",
        ),
        (
            {},
            None,
            "Error in sensor s: Sensor evaluation function returned a RunRequest for a sensor "
            "lacking a specified target (job_name, job, or jobs). Targets can be specified by "
            "providing job, jobs, or job_name to the @sensor decorator.",
        ),
    ],
)
def test_run_requests_for_no_or_an_unknown_job_are_refused(targets, request_job, message):
    @sensor(name="s", **targets)
    def s(context):
        yield RunRequest(run_key="1", job_name=request_job)

    # Dagster raises a bare Exception here; ours is a DagsterInvariantViolationError
    with pytest.raises(DagsterInvariantViolationError) as caught:
        s.evaluate_tick(build_sensor_context())
    assert str(caught.value) == message


def test_definition_errors_match_dagster():
    with pytest.raises(DagsterInvalidDefinitionError) as caught:
        sensor(job=files_job, jobs=[other_job])(lambda context: None)
    assert str(caught.value) == (
        "Attempted to provide more than one of 'job', 'jobs', 'job_name', and 'asset_selection' "
        "params to SensorDefinition. Must provide only one."
    )
    with pytest.raises(DagsterInvalidDefinitionError, match='"x y" is not a valid name'):
        sensor(job=files_job, name="x y")(lambda context: None)


def test_user_errors_propagate_unchanged():
    @sensor(job=files_job)
    def broken(context):
        raise KeyError("k")

    with pytest.raises(KeyError):
        broken(build_sensor_context())
    with pytest.raises(KeyError):
        broken.evaluate_tick(build_sensor_context())


def test_invalid_returns_are_refused():
    @sensor(job=files_job)
    def seven(context):
        return 7

    @sensor(job=files_job)
    def mixed(context):
        yield RunRequest(run_key="1")
        yield SkipReason("x")

    @sensor(job=files_job)
    def two_skips(context):
        yield SkipReason("x")
        yield SkipReason("y")

    with pytest.raises(DagsterInvariantViolationError) as caught:
        seven.evaluate_tick(build_sensor_context())
    assert str(caught.value) == (
        "Error in sensor seven: Sensor unexpectedly returned output 7 of type <class 'int'>.  "
        "Should only return SkipReason or RunRequest objects."
    )
    with pytest.raises(DagsterInvariantViolationError, match="received both RunRequest"):
        mixed.evaluate_tick(build_sensor_context())
    with pytest.raises(DagsterInvariantViolationError, match="received multiple SkipReasons"):
        two_skips.evaluate_tick(build_sensor_context())


def test_the_context_offers_the_last_run_key():
    @sensor(job=files_job)
    def remembers(context):
        return SkipReason(f"last={context.last_run_key}")

    context = SensorEvaluationContext(instance_ref=None, last_run_key="r7")
    assert remembers.evaluate_tick(context).skip_message == "last=r7"


def test_a_sensor_without_a_context_parameter():
    @sensor(job=files_job)
    def bare():
        return RunRequest(run_key="n")

    assert bare() == RunRequest(run_key="n")
    [request] = bare.evaluate_tick(build_sensor_context()).run_requests
    assert request.run_key == "n"


def test_invoking_with_the_wrong_context_is_refused():
    with pytest.raises(DagsterInvalidInvocationError, match="expected context argument"):
        counter()
    with pytest.raises(DagsterInvalidInvocationError, match="not a SensorEvaluationContext"):
        counter("x")


def test_the_cursor_must_be_a_string():
    with pytest.raises(DagsterInvariantViolationError, match='"cursor" is not a str'):
        build_sensor_context().update_cursor(5)


def test_duplicate_run_keys_in_one_tick_are_all_returned_by_evaluate_tick():
    @sensor(job=files_job)
    def twice(context):
        yield RunRequest(run_key="1")
        yield RunRequest(run_key="1")

    assert [r.run_key for r in twice.evaluate_tick(build_sensor_context()).run_requests] == [
        "1",
        "1",
    ]


def test_the_sensors_own_tags_do_not_go_on_its_runs():
    @sensor(job=files_job, tags={"team": "x"})
    def tagged(context):
        return RunRequest(run_key="1", tags={"a": "b"})

    assert tagged.tags == {"team": "x"}
    [request] = tagged.evaluate_tick(build_sensor_context()).run_requests
    assert request.tags == {"a": "b", "dagster/sensor_name": "tagged"}


def test_partitioned_requests_resolve_against_the_target_job():
    @sensor(job=regional)
    def by_partition(context):
        yield RunRequest(run_key="r", partition_key="us")

    @sensor(job=regional)
    def bad_partition(context):
        yield RunRequest(run_key="r", partition_key="zz")

    [request] = by_partition.evaluate_tick(build_sensor_context()).run_requests
    assert request.run_config == {"region": "us"}
    assert request.tags == {
        "dagster/partition": "us",
        "dagster/partition_set": "regional_partition_set",
        "dagster/sensor_name": "by_partition",
    }
    with pytest.raises(DagsterUnknownPartitionError, match="Could not find a partition with key"):
        bad_partition.evaluate_tick(build_sensor_context())


def test_contexts_can_be_used_as_context_managers():
    with build_sensor_context(cursor="3") as context:
        assert [r.run_key for r in counter.evaluate_tick(context).run_requests] == [
            "file_3",
            "file_4",
        ]


def test_a_sensor_result_must_come_alone():
    @sensor(job=files_job)
    def crowded(context):
        yield RunRequest(run_key="a")
        yield SensorResult(run_requests=[RunRequest(run_key="b")])

    with pytest.raises(DagsterInvariantViolationError) as caught:
        crowded.evaluate_tick(build_sensor_context())
    assert str(caught.value) == (
        "When a SensorResult is returned from a sensor, it must be the only object returned."
    )
