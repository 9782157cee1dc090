"""What the UI reads from a store, on fakeredis: the runs query and its copies of
records, a run page's copies of plans and events, the cluster view's running steps."""

from __future__ import annotations

import time
import uuid

import fakeredis
import pytest

from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.planning.compiler import compile_plan
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.orchestrator.protocol.messages import RunRecord
from opgrid.orchestrator.protocol.presence import RunningStep, WorkerInfo
from opgrid.orchestrator.protocol.status import RunStatus
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.envelopes import io_manager_from_settings
from opgrid.orchestrator.store.keys import Keys
from opgrid.orchestrator.store.redis import RedisRunStore
from opgrid.orchestrator.ui.auth import AuthPolicy
from opgrid.orchestrator.ui.catalog import Catalog
from opgrid.orchestrator.ui.cluster import ClusterHandle
from opgrid.orchestrator.ui.cluster_view import workers_now
from opgrid.orchestrator.ui.run_view import load_run
from opgrid.orchestrator.ui.runs_query import RunFilter, count_runs, list_runs
from opgrid.orchestrator.ui.state import UIState
from tests.benchmarks import ui_jobs

PLAN = compile_plan(ui_jobs.small)


@pytest.fixture
def cluster():
    client = fakeredis.FakeRedis()
    settings = Settings(namespace=f"t-{uuid.uuid4().hex[:6]}", secret="s")
    store = RedisRunStore(client, Keys(settings.namespace), run_ttl_s=100)
    yield ClusterHandle(settings, store, io_manager_from_settings(settings))
    client.close()


def _run(cluster, job: str = "small", status: RunStatus = RunStatus.STARTED, **tags) -> RunRecord:
    record = RunRecord(
        run_id=str(uuid.uuid4()), job_name=job, status=status, tags=tags, created_at=time.time()
    )
    cluster.store.create_run(record, PLAN)
    return record


def test_a_run_still_going_is_read_again_so_filters_see_its_new_status(cluster):
    going = _run(cluster, team="a")
    _run(cluster, job="other", status=RunStatus.SUCCESS)
    by_status = RunFilter(job="small", statuses=frozenset({"success"}), tags=(("team", "a"),))
    assert list_runs(cluster, by_status).runs == []
    assert [r.run_id for r in list_runs(cluster, RunFilter(job="small")).runs] == [going.run_id]
    cluster.store.save_run(going.model_copy(update={"status": RunStatus.SUCCESS}))
    assert [r.run_id for r in list_runs(cluster, by_status).runs] == [going.run_id]
    assert count_runs(cluster, by_status) == 1
    assert count_runs(cluster, RunFilter(statuses=frozenset({"success"}))) == 2
    assert count_runs(cluster, RunFilter(job="other", tags=(("team", "a"),))) == 0
    assert count_runs(cluster, RunFilter()) == 2


def test_a_run_page_read_again_has_every_event_added_since(cluster):
    record = _run(cluster)
    run_id = record.run_id
    start = RunEvent(run_id=run_id, kind=E.RUN_START, timestamp=time.time())
    cluster.store.append_events(run_id, [start])
    assert [e.kind for _, e in load_run(cluster, run_id).events] == [E.RUN_START]
    step = RunEvent(run_id=run_id, kind=E.STEP_START, timestamp=time.time(), step_key="source")
    cluster.store.append_events(run_id, [step])
    again = load_run(cluster, run_id)
    assert again.events == cluster.store.read_events(run_id)
    assert [a.step_key for a in again.attempts] == ["source"]


def test_running_steps_are_shown_only_where_the_claim_names_the_worker(cluster):
    record = _run(cluster)
    cluster.store.save_progress(record.run_id, {"source": "queued", "branch": "queued"}, {}, [])
    start = RunEvent(run_id=record.run_id, kind=E.STEP_START, timestamp=time.time())
    cluster.store.begin_attempt(record.run_id, "source", 0, "box/12/ab", start, 30.0)
    held = RunningStep(
        run_id=record.run_id,
        step_key="source",
        attempt=0,
        job_name="small",
        pid=12,
        started_at=time.time() - 5,
    )
    duplicate = held.model_copy(update={"pid": 13})  # a delivery another process holds
    info = WorkerInfo(host="box", pid=10, concurrency=2, pool="prefork", running=(held, duplicate))
    cluster.store.worker_heartbeat("w1@box", ["q"], ttl_s=30, info=info)
    cluster.store.worker_heartbeat("w2@old", ["q"], ttl_s=30)
    policy = AuthPolicy.build("127.0.0.1", None, False, "s")
    (one, two) = workers_now(UIState(cluster, Catalog([]), policy))
    assert (one.hostname, one.pid, one.concurrency) == ("w1@box", 10, 2)
    assert [(s.step_key, s.pid) for s in one.running] == [("source", 12)]
    assert one.running[0].elapsed_s >= 5
    assert (two.hostname, two.host, two.concurrency, two.running) == ("w2@old", "old", None, [])
