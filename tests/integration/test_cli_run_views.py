"""``opgrid run list|show|logs|cancel`` find runs as people name them: filters, short
ids, JSON for scripts; on a real redis-server holding runs written as the cluster writes
them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from opgrid import job, op
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.cli import main
from opgrid.orchestrator.planning.compiler import compile_plan
from opgrid.orchestrator.protocol.events import run_event
from opgrid.orchestrator.protocol.messages import RunRecord
from opgrid.orchestrator.protocol.status import RunStatus
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.redis import RedisRunStore

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@op
def fetch() -> int:
    return 1


@job
def nightly():
    fetch()


PLAN = compile_plan(nightly)


@pytest.fixture
def store(settings: Settings) -> Iterator[RedisRunStore]:
    store = RedisRunStore.from_settings(settings)
    yield store
    store.client.close()


@pytest.fixture
def opgrid(settings: Settings, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(ROOT)
    env = {
        "OPGRID_REDIS_URL": settings.redis_url,
        "OPGRID_NAMESPACE": settings.namespace,
        "OPGRID_SECRET": settings.secret.get_secret_value(),
        "OPGRID_DEFAULT_QUEUE": settings.default_queue,
    }

    def run(*args: str) -> Result:
        result = CliRunner().invoke(main, list(args), env=env)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return run


def _run(
    store: RedisRunStore,
    run_id: str,
    job_name: str = "nightly",
    status: RunStatus = RunStatus.SUCCESS,
    age_s: float = 10.0,
    **tags: str,
) -> RunRecord:
    created = time.time() - age_s
    record = RunRecord(run_id=run_id, job_name=job_name, tags=tags, created_at=created)
    store.create_run(record, PLAN)
    if status is not RunStatus.QUEUED:
        done = record.model_copy(update={"status": status, "finished_at": created + 1})
        store.finish_run(done, [run_event(run_id, E.RUN_SUCCESS)], {"fetch": "success"})
        return done
    return record


def test_run_list_filters_by_job_status_tag_and_age(opgrid, store) -> None:
    _run(store, "aaaa1111", team="data")
    _run(store, "aaaa2222", status=RunStatus.FAILURE, age_s=20, team="data")
    _run(store, "bbbb3333", job_name="weekly", age_s=30, team="web")
    _run(store, "cccc4444", age_s=3 * 86400, team="data")

    def ids(*args: str) -> list[str]:
        result = opgrid("run", "list", "--json", *args)
        assert result.exit_code == 0, result.output
        return [row["run_id"] for row in json.loads(result.output)]

    assert ids() == ["aaaa1111", "aaaa2222", "bbbb3333", "cccc4444"]
    assert ids("--job", "nightly") == ["aaaa1111", "aaaa2222", "cccc4444"]
    assert ids("--status", "failure") == ["aaaa2222"]
    assert ids("--status", "failure", "--status", "success", "--job", "weekly") == ["bbbb3333"]
    assert ids("--tag", "team=data", "--since", "1d") == ["aaaa1111", "aaaa2222"]
    assert ids("--limit", "1") == ["aaaa1111"]
    text = opgrid("run", "list", "--job", "nobody")
    assert text.exit_code == 0 and "match" in text.output


def test_run_list_json_has_stable_fields(opgrid, store) -> None:
    _run(store, "dddd5555", team="data")
    (row,) = json.loads(opgrid("run", "list", "--json").output)
    assert set(row) >= {"run_id", "job_name", "status", "tags", "created_at", "finished_at"}
    assert (row["status"], row["tags"]) == ("success", {"team": "data"})


def test_a_unique_prefix_names_a_run_and_an_ambiguous_one_lists_the_matches(opgrid, store):
    _run(store, "eeee1111-aaaa")
    _run(store, "eeee2222-bbbb", age_s=20)
    shown = opgrid("run", "show", "eeee1")
    assert shown.exit_code == 0, shown.output
    assert "eeee1111-aaaa" in shown.output
    ambiguous = opgrid("run", "show", "eeee")
    assert ambiguous.exit_code == 2
    assert "eeee1111-aaaa" in ambiguous.output and "eeee2222-bbbb" in ambiguous.output
    assert "Traceback" not in ambiguous.output
    missing = opgrid("run", "logs", "ffff")
    assert missing.exit_code == 2 and "ffff" in missing.output


def test_run_show_json_lists_steps_and_errors(opgrid, store) -> None:
    _run(store, "gggg1111")
    data = json.loads(opgrid("run", "show", "gggg", "--json").output)
    assert data["run_id"] == "gggg1111"
    assert data["steps"] == [
        {
            "step_key": "fetch",
            "status": "success",
            "output_metadata": {},
            "failure_metadata": {},
            "queued": None,
        }
    ]
    assert data["errors"] == []


def test_run_logs_by_step_in_time_order_and_as_json_lines(opgrid, store) -> None:
    _run(store, "hhhh1111", status=RunStatus.QUEUED)
    store.append_events(
        "hhhh1111",
        [
            run_event("hhhh1111", E.STEP_START, step_key="fetch"),
            run_event("hhhh1111", E.LOG_MESSAGE, step_key="fetch", message="got 1", level="INFO"),
            run_event("hhhh1111", E.STEP_START, step_key="other"),
            run_event("hhhh1111", E.STEP_SUCCESS, step_key="fetch"),
        ],
    )
    lines = opgrid("run", "logs", "hhhh", "--step", "fetch").output.splitlines()
    assert [line.split()[2] for line in lines] == ["STEP_START", "LOG", "STEP_SUCCESS"]
    assert "got 1" in lines[1]
    rows = [
        json.loads(line) for line in opgrid("run", "logs", "hhhh", "--json").output.splitlines()
    ]
    assert [row["kind"] for row in rows] == [
        "STEP_START",
        "LOG_MESSAGE",
        "STEP_START",
        "STEP_SUCCESS",
    ]
    stamps = [row["timestamp"] for row in rows]
    assert stamps == sorted(stamps)


def test_cancel_takes_a_prefix(opgrid, store) -> None:
    _run(store, "iiii1111", status=RunStatus.QUEUED)
    result = opgrid("run", "cancel", "iiii")
    assert result.exit_code == 0, result.output
    assert "iiii1111" in result.output
    kinds = [event.kind for _, event in store.read_events("iiii1111")]
    assert kinds == [E.RUN_CANCELING]


def test_submit_warns_of_a_queue_no_live_worker_consumes_and_strict_refuses(
    opgrid, store, settings
) -> None:
    hello = ("job", "submit", "-f", "examples/hello.py", "-j", "hello")
    warned = opgrid(*hello)
    assert warned.exit_code == 0, warned.output
    assert f"no live worker consumes queue(s) '{settings.default_queue}'" in warned.stderr
    assert "no worker is alive" in warned.stderr
    queued = store.list_runs()
    refused = opgrid(*hello, "--strict")
    assert refused.exit_code == 2
    assert "nothing was queued" in refused.stderr
    assert f"opgrid worker -Q {settings.default_queue}" in refused.stderr
    assert len(store.list_runs()) == len(queued)  # nothing stored for the refused run
    store.worker_heartbeat("w1@host", [settings.default_queue], ttl_s=30)
    consumed = opgrid(*hello, "--strict")
    assert consumed.exit_code == 0, consumed.output
    assert "no live worker" not in consumed.stderr


def test_run_show_says_which_queue_a_queued_step_waits_on_and_if_anyone_consumes_it(
    opgrid, store, settings
) -> None:
    _run(store, "jjjj1111", status=RunStatus.QUEUED)
    started = run_event("jjjj1111", E.RUN_START).model_copy(update={"timestamp": time.time() - 300})
    store.save_progress("jjjj1111", {"fetch": "queued"}, {}, [started])
    queue = settings.default_queue
    shown = opgrid("run", "show", "jjjj")
    assert f"fetch  queued 5 min on '{queue}': no live consumer" in shown.output
    store.worker_heartbeat("w1@host", [queue], ttl_s=30)
    store.client.lpush(queue, b"{}", b"{}")  # two messages wait on the queue
    shown = opgrid("run", "show", "jjjj")
    assert f"fetch  queued 5 min on '{queue}' (2 waiting on it)" in shown.output
    assert "no live consumer" not in shown.output
    (step,) = json.loads(opgrid("run", "show", "jjjj", "--json").output)["steps"]
    assert step["queued"]["queue"] == queue
    assert step["queued"]["consumed"] is True and step["queued"]["depth"] == 2
    assert 299 <= step["queued"]["waited_s"] < 330
    store.client.delete(queue)
