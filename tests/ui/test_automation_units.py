"""What the Schedules, Sensors and Backfills pages compute from stored records (no server)."""

from __future__ import annotations

from datetime import datetime, timezone

from opgrid.orchestrator.scheduling.backfill import Backfill
from opgrid.orchestrator.scheduling.catalog import InstigatorInfo
from opgrid.orchestrator.scheduling.definitions import InstigatorDef
from opgrid.orchestrator.scheduling.evaluation import InstigatorType
from opgrid.orchestrator.store.tick_records import (
    BackfillProgressRecord,
    BackfillRecord,
    BackfillStatus,
    InstigatorState,
)
from opgrid.orchestrator.ui.automation import BackfillView, Instigator

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=timezone.utc).timestamp()


def _schedule(running_by_default: bool) -> InstigatorDef:
    info = InstigatorInfo(
        location="loc",
        name="nightly",
        instigator_type=InstigatorType.SCHEDULE,
        job_names=["etl"],
        running_by_default=running_by_default,
        cron_schedules=["0 3 * * *"],
        execution_timezone="Europe/Paris",
    )
    return InstigatorDef(info=info)


def test_a_schedule_s_state_is_its_default_until_set_and_only_a_running_one_has_a_next_tick():
    by_default = Instigator(_schedule(True), InstigatorState(), None, NOW)
    assert by_default.running and by_default.by_default
    next_tick = datetime.fromtimestamp(by_default.next_tick_ts or 0, timezone.utc)
    assert next_tick == datetime(2030, 6, 2, 1, 0, tzinfo=timezone.utc)  # 03:00 in Paris
    stopped = Instigator(_schedule(True), InstigatorState(running=False), None, NOW)
    assert not stopped.running and not stopped.by_default and stopped.next_tick_ts is None
    assert Instigator(_schedule(False), InstigatorState(), None, NOW).next_tick_ts is None


def _backfill(status: BackfillStatus, launched: dict, finished: dict) -> BackfillProgressRecord:
    backfill = Backfill(
        backfill_id="b1", job_name="etl", partition_keys=["a", "b", "c", "d"], created_ts=1.0
    )
    record = BackfillRecord(backfill=backfill, status=status)
    return BackfillProgressRecord(record=record, launched=launched, finished=finished)


def test_a_backfill_counts_its_partitions_by_what_their_runs_did():
    progress = _backfill("requested", {"a": "r1", "b": "r2", "c": "r3"}, {"a": "success"})
    view = BackfillView(progress, {"r2": "failure", "r3": "started"})
    assert (view.requested, view.launched, view.succeeded, view.failed) == (4, 3, 1, 1)
    assert view.in_flight == ["c"]
    assert view.partition_state("c") == ("launched", "r3")
    assert view.partition_state("d") == ("waiting", None)


def test_a_canceled_backfill_shows_its_runs_ended_and_its_other_partitions_not_launched():
    progress = _backfill("canceled", {"a": "r1", "b": "r2"}, {"a": "success"})
    view = BackfillView(progress, {"r2": "canceled"})
    assert view.finished == {"a": "success", "b": "canceled"}
    assert (view.succeeded, view.failed, view.canceled) == (1, 0, 1)
    assert view.in_flight == []
    assert view.partition_state("b") == ("canceled", "r2")
    assert view.partition_state("c") == ("not launched", None)
