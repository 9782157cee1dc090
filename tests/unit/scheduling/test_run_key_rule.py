"""Dagster's run-key rule: a sensor never launches two runs with the same run key;
requests without a run key always launch."""

from __future__ import annotations

from opgrid.orchestrator.scheduling import RequestedRun, last_run_key, new_run_requests


def _run(key, job="j"):
    return RequestedRun(job_name=job, run_key=key)


def test_requests_with_launched_keys_are_dropped():
    decision = new_run_requests([_run("a"), _run("b"), _run("c")], {"b"})
    assert [r.run_key for r in decision.to_launch] == ["a", "c"]
    assert [r.run_key for r in decision.already_launched] == ["b"]
    assert decision.new_run_keys == ["a", "c"]


def test_requests_without_a_key_always_launch():
    decision = new_run_requests([_run(None), _run(None), _run("a")], {"a"})
    assert [r.run_key for r in decision.to_launch] == [None, None]
    assert decision.new_run_keys == []


def test_a_key_repeated_within_one_tick_launches_once():
    decision = new_run_requests([_run("a"), _run("a", job="other")], set())
    assert [(r.run_key, r.job_name) for r in decision.to_launch] == [("a", "j")]
    assert [(r.run_key, r.job_name) for r in decision.already_launched] == [("a", "other")]


def test_the_launched_set_is_not_changed():
    launched = {"x"}
    new_run_requests([_run("y")], launched)
    assert launched == {"x"}


def test_the_last_run_key_follows_the_last_launched_key():
    assert last_run_key(new_run_requests([_run("a"), _run("b")], set()), "z") == "b"
    assert last_run_key(new_run_requests([_run("a")], {"a"}), "z") == "z"
    assert last_run_key(new_run_requests([_run(None)], set()), None) is None
