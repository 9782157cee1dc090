"""Sending steps to workers: the ``Dispatcher`` protocol and its Celery implementation.

The orchestrator sends tasks by name only; it never imports the workers.
"""

from __future__ import annotations

import logging
from typing import Protocol

from celery import Celery

from .messages import EXECUTE_STEP, StepRequest
from .settings import Settings

logger = logging.getLogger(__name__)


class Dispatcher(Protocol):
    """Delivers a step request to some worker."""

    def dispatch(
        self, request: StepRequest, *, queue: str, priority: int | None, delay_s: float
    ) -> None:
        """Send one step attempt, to run no sooner than ``delay_s`` from now."""

    def close(self) -> None:
        """Release connections."""


def celery_client(settings: Settings) -> Celery:
    """A Celery app used only to send tasks (JSON, no result backend)."""
    app = Celery("opgrid-client", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_default_queue=settings.default_queue,
        broker_connection_retry_on_startup=True,
    )
    return app


class CeleryDispatcher:
    """Sends ``opgrid.step`` tasks; Flower shows each as ``run=... job=... step=...``."""

    def __init__(self, settings: Settings, app: Celery | None = None) -> None:
        self.app = app or celery_client(settings)

    def dispatch(
        self, request: StepRequest, *, queue: str, priority: int | None, delay_s: float
    ) -> None:
        label = f"run={request.run_id} job={request.job_name} step={request.step_key}"
        logger.debug("dispatch %s attempt %d to %s", label, request.attempt, queue)
        self.app.send_task(
            EXECUTE_STEP,
            kwargs=request.model_dump(mode="json"),
            queue=queue,
            priority=priority,
            countdown=delay_s or None,
            shadow=label,
        )

    def close(self) -> None:
        self.app.close()
