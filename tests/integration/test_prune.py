"""``opgrid run prune --older-than AGE [--dry-run]`` and ``RedisRunStore.prune_runs``.

Runs are written through the store with chosen timestamps (a run "from ten days
ago"), outputs included, on the session's real redis-server; the store's own rules
are also checked on fakeredis.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import fakeredis
import pytest
import redis
from click.testing import CliRunner, Result

from opgrid import job, op
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.cli import main
from opgrid.orchestrator.cli.run import parse_age
from opgrid.orchestrator.planning.compiler import compile_plan
from opgrid.orchestrator.planning.state import ValueRef
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import RunRecord
from opgrid.orchestrator.protocol.status import RunStatus
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.keys import Keys
from opgrid.orchestrator.store.redis import RedisRunStore

pytestmark = pytest.mark.integration

DAY = 86400.0


@op
def one() -> int:
    return 1


@job
def tiny() -> None:
    one()


PLAN = compile_plan(tiny)


def _add_run(
    store: RedisRunStore,
    status: RunStatus,
    created_ago_s: float,
    finished_ago_s: float | None = None,
    run_id: str | None = None,
) -> str:
    """A run with a record, a plan, events, step statuses and two outputs."""
    now = time.time()
    record = RunRecord(
        run_id=run_id or str(uuid.uuid4()),
        job_name="tiny",
        created_at=now - created_ago_s,
        started_at=now - created_ago_s,
    )
    store.create_run(record, PLAN)
    started = RunEvent(run_id=record.run_id, kind=E.STEP_START, timestamp=now, step_key="one")
    store.commit_step(
        record.run_id,
        [(ValueRef("one", "result"), b"value"), (ValueRef("one", "mapped", "k1"), b"value")],
        [started],
        ("one", "success"),
    )
    if finished_ago_s is not None:
        final = record.model_copy(update={"status": status, "finished_at": now - finished_ago_s})
        store.finish_run(final, [], {"one": "success"})
    elif status is not RunStatus.QUEUED:
        store.save_run(record.model_copy(update={"status": status}))
    return record.run_id


def _keys_of(client: redis.Redis, keys: Keys, run_id: str) -> set[bytes]:
    return set(client.scan_iter(match=keys.run_pattern(run_id), count=1000))


@pytest.fixture
def store(settings: Settings) -> Iterator[RedisRunStore]:
    opened = RedisRunStore.from_settings(settings)
    yield opened
    opened.client.close()


@pytest.fixture
def opgrid(settings: Settings):
    env = {"OPGRID_REDIS_URL": settings.redis_url, "OPGRID_NAMESPACE": settings.namespace}

    def run(*args: str) -> Result:
        result = CliRunner().invoke(main, list(args), env=env)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"opgrid {' '.join(args)} crashed:\n{result.output}") from (
                result.exception
            )
        return result

    return run


def test_prune_deletes_every_key_of_old_finished_runs_and_keeps_recent_and_active_ones(
    store: RedisRunStore, opgrid, settings: Settings
) -> None:
    client, keys = store.client, store.keys
    old = {
        _add_run(store, RunStatus.SUCCESS, 10 * DAY, 9 * DAY),
        _add_run(store, RunStatus.FAILURE, 9 * DAY, 8 * DAY),
        _add_run(store, RunStatus.CANCELED, 8 * DAY, 8 * DAY),
    }
    kept = {
        _add_run(store, RunStatus.SUCCESS, 3600, 3000),  # recent
        _add_run(store, RunStatus.SUCCESS, 10 * DAY, 1 * DAY),  # old, but ended recently
        _add_run(store, RunStatus.STARTED, 10 * DAY),  # old and still active
        _add_run(store, RunStatus.QUEUED, 10 * DAY),  # old and never started
    }
    unfinished = _add_run(store, RunStatus.STARTED, 10 * DAY)
    client.srem(keys.active(), unfinished)  # off the active set, but its record is not final
    kept.add(unfinished)
    some_old = next(iter(old))
    client.set(f"{settings.namespace}:{{{some_old}}}:a-key-added-later", b"x")
    client.zadd(keys.runs_index(), {"expired-long-ago": time.time() - 30 * DAY})
    kept_keys = {run_id: _keys_of(client, keys, run_id) for run_id in kept}
    old_keys = {run_id: _keys_of(client, keys, run_id) for run_id in old}
    assert all(keys.output(r, "one", "mapped", "k1").encode() in old_keys[r] for r in old)

    dry = opgrid("run", "prune", "--older-than", "7d", "--dry-run")

    assert dry.exit_code == 0, dry.output
    assert set(dry.stdout.split()) == old | {"expired-long-ago"}
    assert "would prune 4 runs that ended before" in dry.stderr
    assert {run_id: _keys_of(client, keys, run_id) for run_id in old} == old_keys

    pruned = opgrid("run", "prune", "--older-than", "7d")

    assert pruned.exit_code == 0, pruned.output
    assert set(pruned.stdout.split()) == old | {"expired-long-ago"}
    assert "pruned 4 runs" in pruned.stderr
    assert all(_keys_of(client, keys, run_id) == set() for run_id in old)
    assert {run_id: _keys_of(client, keys, run_id) for run_id in kept} == kept_keys
    indexed = {member.decode() for member in client.zrange(keys.runs_index(), 0, -1)}
    assert indexed == kept
    listed = opgrid("run", "list").stdout
    assert not any(run_id in listed for run_id in old) and all(r in listed for r in kept)
    assert opgrid("run", "show", some_old).exit_code == 2

    again = opgrid("run", "prune", "--older-than", "7d")
    assert again.exit_code == 0 and again.stdout == ""
    assert "pruned 0 runs" in again.stderr


def test_prune_ages_take_every_unit_and_a_bad_one_is_a_usage_error(opgrid) -> None:
    assert [parse_age(text) for text in ("30s", "15m", "12h", "7d", "2w", " 1.5h ")] == [
        30.0,
        900.0,
        43200.0,
        7 * DAY,
        14 * DAY,
        5400.0,
    ]
    for bad in ("7", "7x", "-1d", "d", ""):
        result = opgrid("run", "prune", "--older-than", bad)
        assert result.exit_code == 2
        assert "is not an age: give a number and a unit, e.g. 30s, 15m" in result.stderr


@pytest.fixture(params=["fakeredis", "redis"])
def any_store(request: pytest.FixtureRequest) -> Iterator[RedisRunStore]:
    if request.param == "fakeredis":
        client = fakeredis.FakeRedis()
        namespace = f"t-{uuid.uuid4().hex[:6]}"
    else:
        client = redis.Redis.from_url(request.getfixturevalue("redis_url"))
        namespace = request.getfixturevalue("namespace")
    yield RedisRunStore(client, Keys(namespace), run_ttl_s=100)
    client.close()


def test_prune_runs_matches_run_ids_exactly_even_with_glob_characters(
    any_store: RedisRunStore,
) -> None:
    doomed = _add_run(any_store, RunStatus.SUCCESS, 2 * DAY, 2 * DAY, run_id="a*[b]?\\")
    kept = _add_run(any_store, RunStatus.SUCCESS, 2 * DAY, 0, run_id="ab]?\\")
    kept_keys = _keys_of(any_store.client, any_store.keys, kept)
    cutoff = time.time() - DAY

    assert any_store.prune_runs(cutoff, dry_run=True) == [doomed]
    assert any_store.get_run(doomed).status is RunStatus.SUCCESS
    assert any_store.prune_runs(cutoff) == [doomed]

    assert _keys_of(any_store.client, any_store.keys, doomed) == set()
    assert _keys_of(any_store.client, any_store.keys, kept) == kept_keys != set()
    assert any_store.prune_runs(cutoff) == []


def test_prune_runs_keeps_a_finished_run_that_is_still_in_the_active_set(
    any_store: RedisRunStore,
) -> None:
    run_id = _add_run(any_store, RunStatus.SUCCESS, 2 * DAY, 2 * DAY)
    any_store.client.sadd(any_store.keys.active(), run_id)  # its coordinator has not let go

    assert any_store.prune_runs(time.time()) == []
    assert any_store.get_run(run_id).status is RunStatus.SUCCESS
