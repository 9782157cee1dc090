"""Messages that anyone with write access to the broker could put on a step queue.

One real worker process (``opgrid worker``) serves the test's queue. Raw messages are
published with kombu, never through opgrid's dispatcher: undecodable bodies, pickles,
kwargs that are no ``StepRequest``, requests with a missing, malformed or wrong
signature, and a correctly signed request for a run that does not exist. Each must be
refused with one logged error naming what is wrong (never the secret); afterwards the
same worker still runs a real run, and the op the forged requests named never ran.
``publish_step`` puts a message on a step queue as such a writer would: with kombu, in
Celery's message protocol 2.
"""

from __future__ import annotations

import json
import pickle  # noqa: TID251 -- the forged payload a worker must refuse to unpickle
import re
import uuid
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import kombu
import pytest
import redis

import opgrid
from opgrid.errors import NoCoordinatorWarning
from opgrid.orchestrator.protocol.messages import StepRequest
from opgrid.orchestrator.protocol.signing import sign_step
from opgrid.orchestrator.protocol.status import RunStatus
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.keys import Keys
from tests.harness.processes import wait_for_text, worker_process
from tests.jobs import security_jobs as jobs

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

#: The code location, relative to the repository root: workers and submitters name it alike.
JOBS = "tests/jobs/security_jobs.py"
#: Longest a run may take here, worker start-up included.
RUN_TIMEOUT_S = 20.0


@pytest.fixture
def worker_log(settings: Settings, tmp_path: Path) -> Iterator[Path]:
    log = tmp_path / "worker.log"
    with worker_process(settings, log, JOBS):
        yield log


def _secret(settings: Settings) -> bytes:
    return settings.secret.get_secret_value().encode()


def protocol2_body(kwargs: Any, args: Any = ()) -> str:
    """A Celery protocol 2 body: ``[args, kwargs, embed]`` as JSON."""
    embed = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
    return json.dumps([list(args), kwargs, embed])


def publish_step(
    broker_url: str,
    queue: str,
    body: str | bytes,
    content_type: str = "application/json",
    headers: Mapping[str, Any] | None = None,
) -> str:
    """Publish one raw ``opgrid.step`` message on ``queue``; returns its task id."""
    task_id = str(uuid.uuid4())
    message_headers = {
        "lang": "py",
        "task": "opgrid.step",
        "id": task_id,
        "root_id": task_id,
        "parent_id": None,
        "group": None,
        "retries": 0,
        "eta": None,
        "expires": None,
        "timelimit": [None, None],
        "shadow": None,
        "argsrepr": "()",
        "kwargsrepr": "{}",
        "origin": "forger@test",
        "ignore_result": True,
        **(headers or {}),
    }
    with kombu.Connection(broker_url) as connection:
        connection.Producer().publish(
            body,
            exchange="",
            routing_key=queue,
            headers=message_headers,
            content_type=content_type,
            content_encoding="utf-8" if isinstance(body, str) else "binary",
            correlation_id=task_id,
            retry=True,
        )
    return task_id


def _task_lines(log: str, task_id: str) -> str:
    """What the worker logged while it handled one task (received .. succeeded/raised)."""
    found = re.search(
        rf"Task opgrid\.step\[{task_id}\] received\n(.*?)\n.*Task opgrid\.step\[{task_id}\]",
        log,
        flags=re.S,
    )
    assert found, f"task {task_id} was not handled:\n{log}"
    return found.group(1)


def _queued_marker_run(settings: Settings, path: Path) -> Any:
    """A real run of ``marker`` that no coordinator drives (its step is never dispatched)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoCoordinatorWarning)
        return opgrid.submit(
            jobs.marker,
            {"ops": {"write_marker": {"config": {"path": str(path)}}}},
            location=JOBS,
            settings=settings,
        )


def test_forged_and_malformed_step_messages_are_refused_and_the_worker_keeps_serving(
    settings: Settings, worker_log: Path, tmp_path: Path
) -> None:
    marker_path = tmp_path / "forged-marker"
    queued = _queued_marker_run(settings, marker_path)
    target = StepRequest(
        run_id=queued.run_id, step_key="write_marker", job_name="marker", location=JOBS
    )
    fields = target.model_dump(mode="json")
    queue, broker = settings.default_queue, settings.broker_url
    secret = _secret(settings)

    # Celery itself refuses what it cannot decode as JSON
    undecodable = publish_step(broker, queue, b"\x80\x04 not json")
    broken_json = publish_step(broker, queue, "{not json")
    publish_step(
        broker,
        queue,
        pickle.dumps(([], fields, {})),
        content_type="application/x-python-serialize",
    )
    not_a_mapping = publish_step(broker, queue, protocol2_body(["run", "step"]))
    # kwargs that are no StepRequest: each refusal names the field at fault
    invalid = {
        "'step_key': Field required": {"run_id": "r", "job_name": "j"},
        "'bogus': Extra inputs are not permitted": {**fields, "bogus": 1},
        "'run_id': Input should be a valid string": {**fields, "run_id": 5},
        "'attempt': Input should be a valid integer": {**fields, "attempt": "many"},
        "'step_key': String should have at most 4096 characters": {
            **fields,
            "step_key": "x" * 200_000,
        },
        "'attempt': Input should be less than or equal to 1000000": {**fields, "attempt": 10**30},
    }
    invalid_ids = {
        publish_step(broker, queue, protocol2_body(kwargs)): problem
        for problem, kwargs in invalid.items()
    }
    # well-formed requests for the real run's step, not signed with this cluster's secret
    foreign = sign_step(b"another cluster's secret", target).model_dump(mode="json")
    tampered = {**sign_step(secret, target).model_dump(mode="json"), "attempt": 1}
    forged = {
        "missing signature": fields,
        "malformed signature (not hex)": {**fields, "signature": "not-hex"},
        "bad signature": foreign,
        "bad signature ": tampered,  # signed, then an identifier changed
    }
    forged_ids = {
        publish_step(broker, queue, protocol2_body(kwargs)): problem.strip()
        for problem, kwargs in forged.items()
    }
    # signed with the right secret, but the run does not exist (pruned, or never was)
    ghost = sign_step(secret, target.model_copy(update={"run_id": "no-such-run"}))
    ghost_id = publish_step(broker, queue, protocol2_body(ghost.model_dump(mode="json")))

    log = wait_for_text(worker_log, f"Task opgrid.step[{ghost_id}]", count=2)
    assert re.search(rf"CRITICAL.*Can't decode message body.*'id': '{undecodable}'", log)
    assert re.search(rf"CRITICAL.*Can't decode message body.*'id': '{broken_json}'", log)
    assert "Refusing to deserialize untrusted content of type pickle" in log
    assert re.search(rf"Task opgrid.step\[{not_a_mapping}\].*not a mapping", log) or (
        "Task keyword arguments is not a mapping" in log
    )
    for task_id, problem in invalid_ids.items():
        lines = _task_lines(log, task_id)
        assert "ERROR" in lines and "refused an opgrid.step message: not a valid" in lines
        assert problem in lines, lines
        assert len(lines) < 1000  # the 200,000-character step key is not echoed
    for task_id, problem in forged_ids.items():
        lines = _task_lines(log, task_id)
        assert f"refused an opgrid.step message: {problem}" in lines, lines
        assert f"run '{queued.run_id}' step 'write_marker'" in lines
    ghost_lines = _task_lines(log, ghost_id)
    assert "ERROR" in ghost_lines and "no plan for run 'no-such-run'" in ghost_lines
    assert settings.secret.get_secret_value() not in log

    # the same worker still runs real runs; the forged steps never ran
    queued.cancel()
    legit_marker = tmp_path / "legit-marker"
    with opgrid.local_coordinator(settings):
        greeting = opgrid.submit(jobs.greeting, location=JOBS, settings=settings)
        assert greeting.wait(timeout=RUN_TIMEOUT_S).output_for_node("shout") == "HELLO"
        control = opgrid.submit(
            jobs.marker,
            {"ops": {"write_marker": {"config": {"path": str(legit_marker)}}}},
            location=JOBS,
            settings=settings,
        )
        assert control.wait(timeout=RUN_TIMEOUT_S).success
        assert queued.wait(timeout=RUN_TIMEOUT_S).success is False
    assert legit_marker.exists()  # the marker op does write when it really runs
    assert not marker_path.exists()
    assert queued.status is RunStatus.CANCELED
    assert not [event for event in queued.events() if event.step_key == "write_marker"]
    for handle in (greeting, control, queued):
        handle.close()

    # the refused request for a run that does not exist wrote nothing for it
    client = redis.Redis.from_url(settings.redis_url)
    try:
        pattern = Keys(settings.namespace).run_pattern("no-such-run")
        assert list(client.scan_iter(match=pattern)) == []
    finally:
        client.close()
