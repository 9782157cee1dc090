"""ScheduleDefinition and @schedule: definition errors, direct invocation and
evaluate_tick, pinned to what Dagster 1.13 does with the same code."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from opgrid import (
    DagsterInvalidDefinitionError,
    DagsterInvalidInvocationError,
    DagsterInvariantViolationError,
    DagsterUnknownPartitionError,
    DefaultScheduleStatus,
    RunRequest,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    ScheduleExecutionError,
    SkipReason,
    build_schedule_context,
    job,
    op,
    schedule,
    static_partitioned_config,
)


@op
def emit():
    return 1


@job
def nightly():
    emit()


@static_partitioned_config(partition_keys=["us", "eu"])
def region_config(partition_key):
    return {"ops": {"emit": {"config": {}}}, "region": partition_key}


@job(config=region_config)
def regional():
    emit()


NEW_YEAR = datetime(2024, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def context():
    return build_schedule_context(scheduled_execution_time=NEW_YEAR)


def test_a_schedule_definition_takes_its_name_and_defaults_from_its_job(context):
    sched = ScheduleDefinition(
        job=nightly, cron_schedule="0 0 * * *", run_config={"x": 1}, tags={"a": "b"}
    )
    assert (sched.name, sched.job_name, sched.cron_schedule) == (
        "nightly_schedule",
        "nightly",
        "0 0 * * *",
    )
    assert sched.execution_timezone is None
    assert sched.default_status is DefaultScheduleStatus.STOPPED
    assert sched.job is nightly
    data = sched.evaluate_tick(context)
    assert data.skip_message is None
    assert data.run_requests == [
        RunRequest(
            run_config={"x": 1}, tags={"a": "b", "dagster/schedule_name": "nightly_schedule"}
        )
    ]


def test_run_config_and_tags_functions_see_the_context(context):
    sched = ScheduleDefinition(
        job=nightly,
        cron_schedule="0 0 * * *",
        run_config_fn=lambda ctx: {"year": ctx.scheduled_execution_time.year},
        tags_fn=lambda ctx: {"t": "1"},
    )
    [request] = sched.evaluate_tick(context).run_requests
    assert request.run_config == {"year": 2024}
    assert request.tags == {"t": "1", "dagster/schedule_name": "nightly_schedule"}


def test_should_execute_false_skips_the_tick(context):
    sched = ScheduleDefinition(
        job=nightly, cron_schedule="0 0 * * *", should_execute=lambda ctx: False
    )
    data = sched.evaluate_tick(context)
    assert data.run_requests == []
    assert data.skip_message == "should_execute function for nightly_schedule returned false."


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"name": "bad name!"},
            '"bad name!" is not a valid name in Dagster. Names must be in regex ^[A-Za-z0-9_]+$.',
        ),
        ({"execution_timezone": "Mars/Base"}, "Invalid execution timezone Mars/Base for None"),
        (
            {"run_config": {"a": 1}, "run_config_fn": lambda ctx: {}},
            "Attempted to provide both run_config_fn and run_config as arguments to "
            "ScheduleDefinition. Must provide only one of the two.",
        ),
    ],
)
def test_definition_errors_match_dagster(kwargs, message):
    with pytest.raises(DagsterInvalidDefinitionError) as caught:
        ScheduleDefinition(job=nightly, cron_schedule="0 0 * * *", **kwargs)
    assert str(caught.value) == message


def test_a_schedule_needs_a_job():
    with pytest.raises(DagsterInvalidDefinitionError, match="give the job"):
        ScheduleDefinition(cron_schedule="0 0 * * *")


def test_a_plain_schedule_definition_cannot_be_invoked(context):
    sched = ScheduleDefinition(job=nightly, cron_schedule="0 0 * * *")
    with pytest.raises(DagsterInvalidInvocationError) as caught:
        sched(context)
    assert str(caught.value) == (
        "Schedule invocation is only supported for schedules created via the schedule decorators."
    )


@schedule(cron_schedule="0 * * * *", job=nightly, tags={"team": "data"})
def config_schedule(context):
    return {"ops": {"emit": {"config": {"at": context.scheduled_execution_time.isoformat()}}}}


def test_a_decorated_schedule_returns_its_run_config_when_invoked(context):
    assert config_schedule.name == "config_schedule"
    assert config_schedule.job_name == "nightly"
    expected = {"ops": {"emit": {"config": {"at": "2024-01-01T00:00:00+00:00"}}}}
    assert config_schedule(context) == expected
    assert config_schedule(context=context) == expected
    [request] = config_schedule.evaluate_tick(context).run_requests
    assert request.run_config == expected
    assert request.tags == {"team": "data", "dagster/schedule_name": "config_schedule"}
    assert request.run_key is None


@schedule(cron_schedule="0 * * * *", job=nightly, tags={"team": "data"})
def generator_schedule(context):
    yield RunRequest(run_key="a")
    yield RunRequest(run_key="b", tags={"x": "y"})


def test_a_generator_schedule_yields_run_requests(context):
    invoked = generator_schedule(context)
    assert [r.run_key for r in invoked] == ["a", "b"]
    requests = generator_schedule.evaluate_tick(context).run_requests
    # the decorator's tags go on run config results, not on the RunRequests it yields
    assert [(r.run_key, r.tags) for r in requests] == [
        ("a", {"dagster/schedule_name": "generator_schedule"}),
        ("b", {"x": "y", "dagster/schedule_name": "generator_schedule"}),
    ]


def test_a_list_of_run_requests_is_taken_as_is(context):
    @schedule(cron_schedule="0 * * * *", job=nightly)
    def listing(context):
        return [RunRequest(run_key="1"), RunRequest(run_key="2")]

    assert [r.run_key for r in listing.evaluate_tick(context).run_requests] == ["1", "2"]


def test_skip_reasons_and_empty_results_skip_the_tick(context):
    @schedule(cron_schedule="0 * * * *", job=nightly)
    def skipping(context):
        return SkipReason("no")

    @schedule(cron_schedule="0 * * * *", job=nightly)
    def nothing(context):
        return None

    assert skipping(context) == SkipReason("no")
    assert skipping.evaluate_tick(context).skip_message == "no"
    empty = nothing.evaluate_tick(context)
    assert (empty.run_requests, empty.skip_message) == (
        [],
        "Schedule function returned an empty result",
    )


def test_a_schedule_without_a_context_parameter_ignores_the_context(context):
    @schedule(cron_schedule="0 * * * *", job=nightly)
    def bare():
        return {}

    assert bare() == {}
    assert bare(context) == {}
    [request] = bare.evaluate_tick(context).run_requests
    assert request.run_config == {}


def test_invoking_without_the_context_it_expects_is_refused():
    with pytest.raises(DagsterInvalidInvocationError) as caught:
        config_schedule()
    assert str(caught.value) == (
        "Schedule evaluation function expected context argument, but no context argument was "
        "provided when invoking."
    )
    with pytest.raises(DagsterInvalidInvocationError, match="is not a ScheduleEvaluationContext"):
        config_schedule("not a context")


def test_a_raising_schedule_raises_as_is_when_invoked_and_wrapped_when_evaluated(context):
    @schedule(cron_schedule="0 * * * *", job=nightly)
    def broken(context):
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        broken(context)
    with pytest.raises(ScheduleExecutionError) as caught:
        broken.evaluate_tick(context)
    assert str(caught.value) == "Error occurred during the evaluation of schedule broken"
    assert isinstance(caught.value.__cause__, ValueError)


def test_a_schedule_returning_something_else_fails_its_evaluation(context):
    @schedule(cron_schedule="0 * * * *", job=nightly)
    def five(context):
        return 5

    @schedule(cron_schedule="0 * * * *", job=nightly)
    def mixed(context):
        yield RunRequest(run_key="1")
        yield SkipReason("x")

    assert five(context) == 5
    for sched in (five, mixed):
        with pytest.raises(DagsterInvariantViolationError, match="returned"):
            sched.evaluate_tick(context)


def test_the_scheduled_time_is_required_only_when_read():
    bare = build_schedule_context()
    assert isinstance(bare, ScheduleEvaluationContext)
    with pytest.raises(DagsterInvariantViolationError, match="no scheduled_execution_time"):
        _ = bare.scheduled_execution_time
    naive = build_schedule_context(scheduled_execution_time=datetime(2024, 1, 1))
    assert naive.scheduled_execution_time == datetime(2024, 1, 1)


def test_a_partition_key_brings_its_partitions_config_and_tags(context):
    @schedule(cron_schedule="0 * * * *", job=regional)
    def by_region(context):
        yield RunRequest(run_key="u", partition_key="us")
        yield RunRequest(run_key="e", partition_key="eu", run_config={"explicit": 1})

    first, second = by_region.evaluate_tick(context).run_requests
    assert first.run_config == {"ops": {"emit": {"config": {}}}, "region": "us"}
    assert first.tags == {
        "dagster/partition": "us",
        "dagster/partition_set": "regional_partition_set",
        "dagster/schedule_name": "by_region",
    }
    assert second.run_config == {"explicit": 1}
    assert second.partition_key == "eu"


def test_an_unknown_partition_key_is_named(context):
    @schedule(cron_schedule="0 * * * *", job=regional)
    def wrong_region(context):
        return RunRequest(partition_key="mars")

    with pytest.raises(DagsterUnknownPartitionError) as caught:
        wrong_region.evaluate_tick(context)
    assert str(caught.value) == "Could not find a partition with key `mars`."


def test_run_request_fields_and_coercions_match_dagster():
    empty = RunRequest()
    assert (empty.run_key, empty.run_config, empty.tags, empty.job_name, empty.partition_key) == (
        None,
        {},
        {},
        None,
        None,
    )
    assert RunRequest(tags={"a": 1, "b": None, "c": True}).tags == {
        "a": "1",
        "b": "null",
        "c": "true",
    }
    with pytest.raises(DagsterInvariantViolationError, match="run_config must be a dict"):
        RunRequest(run_config=5)
    assert SkipReason("nope").skip_message == "nope"
    assert SkipReason().skip_message is None


def test_the_execution_timezone_and_status_are_kept():
    sched = ScheduleDefinition(
        job=nightly,
        cron_schedule=["0 1 * * *", "0 2 * * *"],
        execution_timezone="America/New_York",
        default_status=DefaultScheduleStatus.RUNNING,
        description="twice",
    )
    assert sched.execution_timezone == "America/New_York"
    assert sched.cron_schedule == ["0 1 * * *", "0 2 * * *"]
    assert sched.default_status is DefaultScheduleStatus.RUNNING
    assert sched.description == "twice"


def test_contexts_can_be_used_as_context_managers():
    with build_schedule_context(scheduled_execution_time=NEW_YEAR) as context:
        assert config_schedule(context)["ops"]["emit"]["config"]["at"].startswith("2024-01-01")


def test_a_partition_needs_a_partitioned_job_held_by_the_schedule(context):
    @schedule(cron_schedule="0 * * * *", job=nightly)
    def unpartitioned(context):
        return RunRequest(partition_key="us")

    @schedule(cron_schedule="0 * * * *", job_name="regional")
    def by_name_only(context):
        return RunRequest(partition_key="us")

    with pytest.raises(DagsterInvariantViolationError, match="which is not partitioned"):
        unpartitioned.evaluate_tick(context)
    with pytest.raises(DagsterInvariantViolationError, match="names its job only by name"):
        by_name_only.evaluate_tick(context)


def test_a_tuple_is_not_a_list_of_run_requests(context):
    @schedule(cron_schedule="0 * * * *", job=nightly)
    def as_tuple(context):
        return (RunRequest(run_key="1"),)

    with pytest.raises(DagsterInvariantViolationError, match="of type tuple"):
        as_tuple.evaluate_tick(context)
