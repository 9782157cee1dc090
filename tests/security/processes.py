"""Real worker processes and raw broker messages for the security tests.

A worker is ``opgrid worker -f tests/security/jobs_for_security.py`` in a subprocess
(solo pool), run from the repository root so that runs submitted with
``location=JOBS`` find their jobs there. ``publish_step`` puts a message on a step
queue the way anyone with write access to the broker could: with kombu, in
Celery's message protocol 2, never through opgrid's dispatcher.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import kombu

from opgrid.orchestrator.settings import Settings
from tests.processes import OPGRID, cluster_env, start, stop

#: The code location, relative to ROOT: workers and submitters name it alike.
JOBS = "tests/security/jobs_for_security.py"
#: Longest a run may take here, worker start-up included.
RUN_TIMEOUT_S = 20.0


@contextlib.contextmanager
def worker_process(settings: Settings, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``opgrid worker`` for ``settings`` (stdout and stderr to ``log``), stopped on exit."""
    command = [OPGRID, "worker", "-f", JOBS, "--pool", "solo", "-n", f"{settings.namespace}@%h"]
    command += ["--", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    process = start(command, cluster_env(settings), log)
    try:
        yield process
    finally:
        stop(process)


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
