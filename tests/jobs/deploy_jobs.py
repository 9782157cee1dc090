"""The code location of the deploy tests: what ``/code/jobs.py`` is in a deployment.

``tests/deploy/test_compose_cluster.py`` runs the compose services' commands with
this folder as ``/code`` and ``OPGRID_LOCATIONS=deploy_jobs.py``, and submits
``deploy_check`` from this folder by the same name, as deploy/README.md tells users.
"""

from __future__ import annotations

from opgrid import OpExecutionContext, job, op


@op
def numbers(context: OpExecutionContext) -> list[int]:
    context.log.info("made on a worker of the deployed cluster")
    return [1, 2, 3, 4]


@op
def total(values: list[int]) -> int:
    return sum(values)


@job
def deploy_check() -> None:
    """Make numbers on one step, add them up on another."""
    total(numbers())
