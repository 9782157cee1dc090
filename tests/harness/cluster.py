"""A small real cluster inside the test process: a Celery worker and a coordinator.

The worker is a real Celery worker (``celery.contrib.testing.worker.start_worker``,
solo pool) consuming from a real redis-server; the coordinator runs in a thread.
Jobs defined inside tests are registered with the worker's code locations before
they are submitted, since a worker only runs jobs it was given.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from celery.contrib.testing.worker import start_worker

from opgrid import GraphDefinition, JobDefinition
from opgrid.orchestrator.client.result import ExecuteInProcessResult
from opgrid.orchestrator.client.submit import submit
from opgrid.orchestrator.coordinator.dispatch import CeleryDispatcher
from opgrid.orchestrator.coordinator.local import CoordinatorThread
from opgrid.orchestrator.coordinator.loop import Coordinator
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.redis import RedisRunStore
from opgrid.workers.app import make_app

#: Longest a test run may take on the cluster.
RUN_TIMEOUT_S = 25.0


class Cluster:
    """Submits jobs to the in-process cluster and waits for their results."""

    def __init__(self, settings: Settings, app: Any) -> None:
        self.settings = settings
        self.app = app

    def execute(
        self,
        job: JobDefinition | GraphDefinition,
        run_config: Any = None,
        raise_on_error: bool = True,
        tags: Mapping[str, Any] | None = None,
        partition_key: str | None = None,
        resources: Mapping[str, Any] | None = None,
        input_values: Mapping[str, Any] | None = None,
    ) -> ExecuteInProcessResult:
        """``execute_in_process``'s signature, run on the cluster."""
        if isinstance(job, GraphDefinition):
            job = job.to_job()
        if resources:
            job = job.with_resources(resources)
        self.app.opgrid_locations.register(job)
        handle = submit(
            job,
            run_config,
            tags,
            partition_key,
            settings=self.settings,
            input_values=input_values,
        )
        try:
            return handle.wait(timeout=RUN_TIMEOUT_S, raise_on_error=raise_on_error)
        finally:
            handle.close()


@contextlib.contextmanager
def running_cluster(settings: Settings) -> Iterator[Cluster]:
    """A worker and a coordinator for ``settings``, stopped on exit."""
    app = make_app(settings)
    store = RedisRunStore.from_settings(settings)
    dispatcher = CeleryDispatcher(settings)
    with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING"):
        coordinator = Coordinator(store, dispatcher, settings)
        with CoordinatorThread(coordinator):
            yield Cluster(settings, app)
    dispatcher.close()
    store.client.close()
