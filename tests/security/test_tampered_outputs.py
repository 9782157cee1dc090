"""Step outputs that someone without ``OPGRID_SECRET`` rewrote in Redis, on a real cluster.

The payloads are pickles that create a marker file when unpickled (checked on a
control copy first, so the tests would notice if they were harmless). Whoever reads
them, a downstream step on a worker process or a client reading a result, must refuse
them with an error that names the output, and never unpickle them.
"""

from __future__ import annotations

import pickle  # noqa: TID251 -- builds the hostile payloads the cluster must refuse
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

import opgrid
from opgrid.errors import StorageError
from opgrid.event_type import DagsterEventType as E
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.envelopes import ENVELOPE_PREFIX
from opgrid.orchestrator.store.keys import Keys
from tests.harness.processes import worker_process
from tests.jobs import security_jobs as jobs

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

#: The code location, relative to the repository root: workers and submitters name it alike.
JOBS = "tests/jobs/security_jobs.py"
#: Longest a run may take here, worker start-up included.
RUN_TIMEOUT_S = 20.0


class _Touch:
    """Unpickling this creates ``path``: what an attacker's payload could do instead."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (self.path, "a"))


def _hostile_pickle(path: Path) -> bytes:
    payload = pickle.dumps(_Touch(path))
    control = path.with_name(path.name + ".control")
    pickle.loads(pickle.dumps(_Touch(control))).close()  # the same payload does act
    assert control.exists()
    return payload


@pytest.fixture
def worker(settings: Settings, tmp_path: Path) -> Iterator[Path]:
    log = tmp_path / "worker.log"
    with worker_process(settings, log, JOBS):
        yield log


@pytest.fixture
def client(settings: Settings) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(settings.redis_url)
    yield connection
    connection.close()


def _wait_for(handle: Any, kind: E, step_key: str) -> None:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while not any(e.kind is kind and e.step_key == step_key for e in handle.events()):
        assert time.monotonic() < deadline, [e.describe() for e in handle.events()]
        time.sleep(0.02)


def test_a_downstream_step_refuses_an_upstream_output_rewritten_in_redis(
    settings: Settings, worker: Path, client: redis.Redis, tmp_path: Path
) -> None:
    marker, gate = tmp_path / "unpickled", tmp_path / "gate"
    # looks like an envelope, but signed with a guessed key
    forged = ENVELOPE_PREFIX + b"\x00" * 32 + _hostile_pickle(marker)
    config = {"ops": {"wait_for_gate": {"config": {"gate": str(gate)}}}}
    with opgrid.local_coordinator(settings):
        handle = opgrid.submit(jobs.gated, config, location=JOBS, settings=settings)
        # wait_for_gate has read the genuine value and waits; consume has not started
        _wait_for(handle, E.STEP_START, "wait_for_gate")
        key = Keys(settings.namespace).output(handle.run_id, "produce", "result", None)
        assert client.exists(key)
        client.set(key, forged)
        gate.touch()
        result = handle.wait(timeout=RUN_TIMEOUT_S)

    assert not result.success
    assert result.is_node_success("wait_for_gate")
    assert result.is_node_failed("consume")
    (failure,) = [e for e in result.all_events if e.kind is E.STEP_FAILURE]
    assert failure.step_key == "consume" and failure.error is not None
    assert failure.error.cls_name == "StorageError"
    assert 'output "result" of step "produce"' in failure.error.message
    assert "not signed by this cluster's OPGRID_SECRET" in failure.error.message
    assert "not unpickled" in failure.error.message
    assert not marker.exists()
    handle.close()


def test_a_client_refuses_a_finished_runs_output_replaced_by_a_bare_pickle(
    settings: Settings, worker: Path, client: redis.Redis, tmp_path: Path
) -> None:
    marker = tmp_path / "unpickled"
    with opgrid.local_coordinator(settings):
        handle = opgrid.submit(jobs.greeting, location=JOBS, settings=settings)
        assert handle.wait(timeout=RUN_TIMEOUT_S).output_for_node("shout") == "HELLO"
    key = Keys(settings.namespace).output(handle.run_id, "shout", "result", None)
    client.set(key, _hostile_pickle(marker), keepttl=True)

    with pytest.raises(StorageError) as refused:
        handle.result().output_for_node("shout")

    message = str(refused.value)
    assert 'output "result" of step "shout"' in message
    assert "unknown envelope prefix" in message and "not unpickled" in message
    assert not marker.exists()
    handle.close()
