"""``opgrid.submit``: run a job on the Celery cluster instead of in this process."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .job import JobDefinition


def submit(
    job: JobDefinition,
    run_config: Any = None,
    tags: Mapping[str, Any] | None = None,
    partition_key: str | None = None,
    location: str | None = None,
    **options: Any,
) -> Any:
    """Queue a run of ``job`` on the cluster and return its ``RunHandle``.

    The run config is validated and the plan compiled here, so bad config fails
    before anything is queued. Settings come from ``OPGRID_*`` variables unless
    ``settings=`` is given.

    Returns:
        RunHandle: ``run_id``, ``status``, ``wait(timeout)``, ``cancel()``.
    """
    from opgrid.orchestrator.client.submit import submit as submit_to_cluster  # the cluster's API

    return submit_to_cluster(job, run_config, tags, partition_key, location, **options)


def local_coordinator(settings: Any = None) -> Any:
    """A context manager that coordinates runs from this process while it is open.

    ``with opgrid.local_coordinator(): opgrid.submit(job).wait()`` runs a job on a
    cluster that has workers but no ``opgrid coordinator`` daemon.
    """
    from opgrid.orchestrator.coordinator.local import local_coordinator as coordinating

    return coordinating(settings)


def get_run(run_id: str, job: JobDefinition | None = None, settings: Any = None) -> Any:
    """A handle on a run submitted anywhere (a unique prefix of its id will do).

    Returns:
        RunHandle: ``status``, ``events()``, ``wait(timeout)``, ``cancel()``; with ``job``,
        ``wait()`` and ``result()`` read its outputs by node too.
    """
    from opgrid.orchestrator.client.submit import RunHandle  # the cluster's API

    return RunHandle.attach(run_id, job, settings)


def list_runs(
    job: str | None = None,
    status: Any = None,
    tags: Mapping[str, str] | None = None,
    limit: int = 20,
    settings: Any = None,
) -> list[Any]:
    """The cluster's newest runs (their records), filtered by job name, status and tags."""
    from opgrid.orchestrator.client.runs import list_runs as listed  # the cluster's API

    return listed(job, status, tags, limit, settings)
