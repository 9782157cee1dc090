"""Sending a tick to a worker of its code location: the ``opgrid.tick`` Celery task.

By task name only (the orchestrator never imports the workers), JSON, signed with the
cluster's secret; Flower shows each as ``tick <origin> <tick id>``.
"""

from __future__ import annotations

import logging
from typing import Protocol

from celery import Celery
from kombu.exceptions import OperationalError as KombuOperationalError

from opgrid.errors import BrokerError
from opgrid.orchestrator.scheduling.tick_task import EVALUATE_TICK, TickTask, sign_tick
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.connect import broker_ssl

logger = logging.getLogger(__name__)


class TickSender(Protocol):
    """Delivers ticks to workers."""

    def send(self, task: TickTask, queue: str) -> None:
        """Send one tick; raises ``BrokerError`` when the broker is away."""

    def close(self) -> None:
        """Release connections."""


class CeleryTickSender:
    """Sends ``opgrid.tick`` tasks through a send-only Celery app."""

    def __init__(self, settings: Settings, app: Celery | None = None) -> None:
        self.app = app or Celery(
            "opgrid-scheduler", broker=settings.broker_url, set_as_current=False
        )
        self.app.conf.update(
            task_serializer="json",
            accept_content=["json"],
            task_ignore_result=True,
            broker_connection_retry_on_startup=True,
            broker_use_ssl=broker_ssl(settings.broker_url),
        )
        self._secret = settings.secret.get_secret_value().encode()

    def send(self, task: TickTask, queue: str) -> None:
        label = f"tick {task.origin} {task.tick_id}"
        logger.debug("send %s to %s", label, queue)
        try:
            self.app.send_task(
                EVALUATE_TICK,
                kwargs=sign_tick(self._secret, task).model_dump(mode="json"),
                queue=queue,
                shadow=label,
                argsrepr="()",
                kwargsrepr=label,
            )
        except (KombuOperationalError, OSError) as exc:
            raise BrokerError(f"the broker did not take {label}: {exc}") from exc

    def close(self) -> None:
        self.app.close()
