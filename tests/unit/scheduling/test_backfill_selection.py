"""Backfills: which partitions a selection means, each run's tags, and which partitions
to launch next under a concurrency limit."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from opgrid import (
    DagsterInvariantViolationError,
    DagsterUnknownPartitionError,
    DailyPartitionsDefinition,
    StaticPartitionsDefinition,
)
from opgrid.orchestrator.scheduling import (
    Backfill,
    next_partitions,
    parse_partition_list,
    select_partitions,
)

LETTERS = StaticPartitionsDefinition(["a", "b", "c", "d", "e"])
DAYS = DailyPartitionsDefinition(start_date="2024-01-01")
JAN_5 = datetime(2024, 1, 5, 12, tzinfo=timezone.utc).timestamp()


def test_a_comma_list_is_split_trimmed_and_deduplicated():
    assert parse_partition_list(" a, b,,c ,a") == ["a", "b", "c"]


def test_explicit_partitions_come_back_in_the_partitions_order():
    assert select_partitions(LETTERS, partitions="d,a", now_ts=JAN_5) == ["a", "d"]
    assert select_partitions(LETTERS, partitions=["c"], now_ts=JAN_5) == ["c"]


def test_all_means_every_partition_that_exists_now():
    assert select_partitions(LETTERS, all_partitions=True, now_ts=JAN_5) == list("abcde")
    assert select_partitions(DAYS, all_partitions=True, now_ts=JAN_5) == [
        "2024-01-01",
        "2024-01-02",
        "2024-01-03",
        "2024-01-04",
    ]


def test_a_range_includes_both_ends_and_may_be_open_on_one_side():
    assert select_partitions(LETTERS, from_key="b", to_key="d", now_ts=JAN_5) == ["b", "c", "d"]
    assert select_partitions(LETTERS, from_key="d", now_ts=JAN_5) == ["d", "e"]
    assert select_partitions(LETTERS, to_key="b", now_ts=JAN_5) == ["a", "b"]
    assert select_partitions(DAYS, from_key="2024-01-03", now_ts=JAN_5) == [
        "2024-01-03",
        "2024-01-04",
    ]


@pytest.mark.parametrize(
    "selection",
    [{"partitions": "a,zz"}, {"from_key": "zz", "to_key": "b"}, {"from_key": "a", "to_key": "zz"}],
)
def test_an_unknown_key_is_named(selection):
    with pytest.raises(DagsterUnknownPartitionError) as caught:
        select_partitions(LETTERS, now_ts=JAN_5, job_name="job 'letters'", **selection)
    assert "'zz' is not a partition of job 'letters'" in str(caught.value)


def test_a_day_that_has_not_happened_yet_is_unknown():
    with pytest.raises(DagsterUnknownPartitionError, match="'2024-01-09'"):
        select_partitions(DAYS, partitions="2024-01-09", now_ts=JAN_5)


@pytest.mark.parametrize(
    "selection",
    [
        {},
        {"partitions": "a", "all_partitions": True},
        {"all_partitions": True, "from_key": "a"},
        {"from_key": "d", "to_key": "b"},
        {"partitions": " , "},
    ],
)
def test_selections_that_mean_nothing_or_two_things_are_refused(selection):
    with pytest.raises(DagsterInvariantViolationError):
        select_partitions(LETTERS, now_ts=JAN_5, **selection)


def _backfill(keys, max_concurrent=None, tags=None):
    return Backfill(
        backfill_id="bf1",
        job_name="letters",
        partition_keys=keys,
        tags=tags or {},
        max_concurrent=max_concurrent,
        created_ts=JAN_5,
    )


def test_each_partitions_run_is_tagged_with_the_partition_and_the_backfill():
    backfill = _backfill(["a", "b"], tags={"team": "data", "dagster/partition": "ignored"})
    assert backfill.run_tags("b") == {
        "team": "data",
        "dagster/partition": "b",
        "dagster/backfill": "bf1",
    }


def test_the_next_partitions_keep_at_most_n_runs_in_flight():
    backfill = _backfill(list("abcde"), max_concurrent=2)
    start = next_partitions(backfill, launched=[], finished=[])
    assert (start.to_launch, start.pending, start.done) == (["a", "b"], ["c", "d", "e"], False)
    full = next_partitions(backfill, launched=["a", "b"], finished=[])
    assert (full.to_launch, full.in_flight) == ([], ["a", "b"])
    one_done = next_partitions(backfill, launched=["a", "b"], finished=["a"])
    assert (one_done.to_launch, one_done.in_flight, one_done.finished) == (["c"], ["b"], ["a"])
    end = next_partitions(backfill, launched=list("abcde"), finished=list("abcde"))
    assert end.done and end.to_launch == []


def test_without_a_limit_every_partition_launches_at_once():
    progress = next_partitions(_backfill(list("abc")), launched=["a"], finished=["a"])
    assert progress.to_launch == ["b", "c"]


def test_a_finished_partition_counts_as_launched():
    progress = next_partitions(
        _backfill(list("abc"), max_concurrent=1), launched=[], finished=["a"]
    )
    assert progress.to_launch == ["b"]


def test_a_backfill_record_is_validated_and_round_trips_through_json():
    backfill = _backfill(["a", "b"], max_concurrent=3)
    assert Backfill.model_validate_json(backfill.model_dump_json()) == backfill
    for bad in ({"max_concurrent": 0}, {"partition_keys": []}, {"partition_keys": ["a", "a"]}):
        fields = backfill.model_dump() | bad
        with pytest.raises(ValidationError):
            Backfill.model_validate(fields)


def test_a_backfills_runs_execute_with_their_partition_and_backfill_tags():
    from opgrid import job, op, static_partitioned_config

    @op(config_schema={"letter": str})
    def echo(context):
        return (context.partition_key, context.op_config["letter"])

    @static_partitioned_config(partition_keys=list("abcde"))
    def letters(key):
        return {"ops": {"echo": {"config": {"letter": key.upper()}}}}

    @job(config=letters)
    def letters_job():
        echo()

    keys = select_partitions(letters_job.partitions_def, from_key="b", to_key="c", now_ts=JAN_5)
    backfill = _backfill(keys, max_concurrent=1)
    launched, finished, outputs = [], [], []
    while not (progress := next_partitions(backfill, launched, finished)).done:
        for key in progress.to_launch:
            launched.append(key)
            result = letters_job.execute_in_process(partition_key=key, tags=backfill.run_tags(key))
            assert result.dagster_run.tags["dagster/backfill"] == "bf1"
            outputs.append(result.output_for_node("echo"))
        finished.extend(progress.in_flight + progress.to_launch)
    assert outputs == [("b", "B"), ("c", "C")]
