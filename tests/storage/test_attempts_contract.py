"""The Attempts contract (claims, heartbeats and commits of step attempts), on every run store."""

from __future__ import annotations

import time

from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.planning.state import ValueRef
from opgrid.orchestrator.protocol.attempts import Verdict, lost_note
from opgrid.orchestrator.protocol.status import RunStatus
from opgrid.orchestrator.store.base import RunStore

from .runs import PLAN, begin, event, record, start_of


def test_one_worker_claims_an_attempt_and_a_duplicate_delivery_is_dropped(store: RunStore) -> None:
    store.save_progress("r1", {"one": "queued"}, {}, [])
    assert begin(store, "w1").verdict is Verdict.GO
    busy = begin(store, "w2")
    assert (busy.verdict, busy.holder) == (Verdict.BUSY, "w1")
    assert begin(store, "w1").verdict is Verdict.GO  # the holder itself, asking again
    assert store.step_statuses("r1") == {"one": "running"}
    assert store.commit_attempt(
        "r1", ("one", "0:w1"), [], [event(E.STEP_SUCCESS, "one")], "success"
    )
    assert begin(store, "w2").verdict is Verdict.SETTLED
    kinds = [e.kind for _, e in store.read_events("r1")]
    assert kinds == [E.STEP_START, E.STEP_START, E.STEP_SUCCESS]


def test_steps_never_sent_and_earlier_attempts_are_not_run(store: RunStore) -> None:
    assert begin(store, "w1").verdict is Verdict.UNDISPATCHED
    store.save_progress("r1", {"one": "up_for_retry"}, {}, [])
    assert begin(store, "w1", attempt=1).verdict is Verdict.GO
    assert begin(store, "w2", attempt=0).verdict is Verdict.STALE


def test_a_silent_holder_is_taken_over_and_its_report_refused(store: RunStore) -> None:
    store.save_progress("r1", {"one": "queued"}, {}, [])
    begin(store, "w1", lost_after_s=0.05)
    time.sleep(0.1)
    taken = begin(store, "w2", lost_after_s=0.05)
    assert (taken.verdict, taken.holder) == (Verdict.TAKEN_OVER, "w1")
    ref = ValueRef("one", "result")
    assert not store.commit_attempt("r1", ("one", "0:w1"), [(ref, b"zombie")], [], "success")
    assert store.commit_attempt("r1", ("one", "0:w2"), [(ref, b"fresh")], [], "success")
    assert store.load_outputs("r1", [ref]) == [b"fresh"]
    kinds = [e.kind for _, e in store.read_events("r1")]
    assert kinds == [E.STEP_START, E.ENGINE_EVENT, E.STEP_START]


def test_a_take_over_notes_the_lost_holder_before_the_start(store: RunStore) -> None:
    step = 'one[a "b" % 50%/c\\d]'  # a mapping key with what JSON, Lua patterns escape
    store.save_progress("r1", {step: "queued"}, {}, [])
    first = start_of(step, 2, "box-1/11")
    store.begin_attempt("r1", step, 2, "box-1/11/aa", first, 10.0)
    again = start_of(step, 2, "box-2.lan/22").model_copy(update={"kind": E.STEP_RESTARTED})
    taken = store.begin_attempt(
        "r1", step, 2, "box-2.lan/22/bb", again, 10.0, take_over="box-1/11/aa"
    )
    assert taken.verdict is Verdict.TAKEN_OVER
    events = [e for _, e in store.read_events("r1")]
    assert events == [first, lost_note(again, "box-2.lan/22/bb"), again]
    assert events[1].kind is E.ENGINE_EVENT and events[1].worker is None
    assert events[1].message == (
        f"attempt 2 of step '{step}' was lost with its worker; running it again on box-2.lan"
    )


def test_a_holder_known_dead_is_taken_over_at_once(store: RunStore) -> None:
    store.save_progress("r1", {"one": "queued"}, {}, [])
    begin(store, "w1")
    assert begin(store, "w2", take_over="w1").verdict is Verdict.TAKEN_OVER


def test_heartbeats_keep_a_claim_and_report_a_cancel(store: RunStore) -> None:
    store.save_progress("r1", {"one": "queued"}, {}, [])
    begin(store, "w1", lost_after_s=0.3)
    for _ in range(3):
        time.sleep(0.15)
        assert store.beat("r1", "one", "0:w1") == "running"
    assert begin(store, "w2", lost_after_s=0.3).verdict is Verdict.BUSY
    now, (beat,) = store.step_beats("r1", ["one"])
    assert beat is not None and now - 1 < beat <= now + 0.01
    store.save_progress("r1", {"one": "canceled"}, {}, [])
    assert store.beat("r1", "one", "0:w1") == "canceled"
    assert not store.commit_attempt("r1", ("one", "0:w1"), [], [], "success")
    assert store.step_statuses("r1") == {"one": "canceled"}


def test_the_statuses_of_steps_of_several_runs_are_read_at_once(store: RunStore) -> None:
    store.save_progress("r1", {"one": "running"}, {}, [])
    store.save_progress("r2", {"two": "canceled"}, {}, [])
    asked = [("r1", "one"), ("r2", "two"), ("r1", "other"), ("gone", "one")]
    assert store.statuses_of(asked) == ["running", "canceled", None, None]
    assert store.statuses_of([]) == []


def test_process_deaths_of_an_attempt_are_counted_and_handed_to_the_next_delivery(
    store: RunStore,
) -> None:
    store.save_progress("r1", {"one": "queued"}, {}, [])
    assert begin(store, "w1").deaths == 0
    died = event(E.ENGINE_EVENT, "one")
    assert store.record_death("r1", "one", 0, "signal 9 (SIGKILL)", died) == 1
    assert store.record_death("r1", "one", 0, "exitcode 3", died) == 2
    again = begin(store, "w2", take_over="w1")
    assert (again.deaths, again.died) == (2, "exitcode 3")
    assert store.record_death("r1", "one", 1, "exitcode 3", died) == 1  # a later attempt
    store.save_progress("r1", {"one": "failure"}, {}, [])
    assert store.record_death("r1", "one", 1, "exitcode 3", died) == 0  # the step has ended


def test_a_claim_reads_the_values_it_names_in_the_same_trip(store: RunStore) -> None:
    store.save_progress("r1", {"one": "queued"}, {}, [])
    stored, missing = ValueRef("up", "result"), ValueRef("up", "other")
    store.commit_step("r1", [(stored, b"value")], [])
    begun = begin(store, "w1", refs=[stored, missing])
    assert begun.verdict is Verdict.GO
    assert begun.values == [b"value", None]


def test_a_committed_steps_last_beat_stays_until_its_run_ends(store: RunStore) -> None:
    store.create_run(record("r1"), PLAN)
    store.save_progress("r1", {"one": "queued"}, {}, [])
    begin(store, "w1")
    assert store.commit_attempt(
        "r1", ("one", "0:w1"), [], [event(E.STEP_SUCCESS, "one")], "success"
    )
    _, (beat,) = store.step_beats("r1", ["one"])
    assert beat is not None  # a final step is not watched: its beat is left for the end
    done = record("r1").model_copy(update={"status": RunStatus.SUCCESS})
    store.finish_run(done, [event(E.RUN_SUCCESS)], {"one": "success"})
    assert store.step_beats("r1", ["one"])[1] == [None]
