"""Sending steps to workers: the ``Dispatcher`` protocol and its Celery implementation.

The orchestrator sends tasks by name only; it never imports the workers. Taking steps
back is broker-specific: with a Redis broker the messages still waiting in a queue's
lists are removed (``withdraw``), so a canceled run leaves nothing on a queue nobody
consumes; every broker also gets Celery's revoke, for messages a worker already holds.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import redis
from celery import Celery
from kombu.exceptions import KombuError
from kombu.exceptions import OperationalError as KombuOperationalError

from opgrid.errors import BrokerError
from opgrid.orchestrator.protocol.messages import StepRequest, task_id
from opgrid.orchestrator.protocol.signing import step_signature
from opgrid.orchestrator.protocol.step_keys import template_of
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.connect import broker_conf, connect
from opgrid.orchestrator.store.keys import queue_lists

from .publisher import StepMessage, StepPublisher

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One step attempt to send now: where, and how urgently (a retry's delay is held
    by the coordinator, never by the message: no countdown or eta)."""

    request: StepRequest
    queue: str
    priority: int | None = None
    #: seconds the step may run (Celery's soft limit); None: no limit
    time_limit_s: float | None = None


class Dispatcher(Protocol):
    """Delivers step requests to workers."""

    def dispatch(self, deliveries: Sequence[Delivery]) -> None:
        """Send step attempts, in order; raises ``BrokerError`` when the broker is away
        (some may have been sent: sending again is safe, duplicates are dropped)."""

    def stage(self, deliveries: Sequence[Delivery]) -> list[tuple[str, bytes]] | None:
        """(list, value) pushes that put these steps on the broker's queues, when those
        queues are lists in run storage's own Redis database: the coordinator then sends
        them in the round trip of its writes (``RunStore.write_turn``). None: ``dispatch``
        them."""

    def revoke(self, task_ids: Sequence[str]) -> None:
        """Tell every worker to drop these tasks when they arrive (best effort)."""

    def withdraw(self, queued: Mapping[str, Sequence[str]]) -> int:
        """Remove the messages of these tasks (queue -> task ids) that still wait on the
        broker, where the broker allows it; returns how many were removed (0 elsewhere)."""

    def close(self) -> None:
        """Release connections."""


def celery_client(settings: Settings) -> Celery:
    """A Celery app used only to send tasks (JSON, no result backend)."""
    broker_url, broker = broker_conf(settings.broker_url)
    app = Celery("opgrid-client", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        # Flower lists a step from the moment it is queued (costs a publish per step)
        task_send_sent_event=settings.sent_events,
        task_default_queue=settings.default_queue,
        broker_connection_retry_on_startup=True,
        **broker,  # rediss://: check the certificate; Sentinel; RabbitMQ: queue priorities
    )
    return app


class CeleryDispatcher:
    """Sends ``opgrid.step`` tasks; Flower shows each as ``run=... job=... step=...``.

    The steps a run makes ready together are published through one producer in one
    batch (one Redis round trip where kombu supports batching), by a ``StepPublisher``:
    Celery task messages without ``send_task``'s per-message routing and declaring. On
    a Redis broker (and no task-sent events asked for) they are pushed straight onto
    kombu's lists in one pipeline; when that Redis database is also run storage's, the
    coordinator sends them with its writes (``stage``).
    A batch the broker did not take raises ``BrokerError`` at once (no retry wrapper):
    the outbox sends it again next turn. It keeps one producer between sends, so it is
    used by one thread (its coordinator's).
    """

    def __init__(self, settings: Settings, app: Celery | None = None) -> None:
        self.app = app or celery_client(settings)
        self._secret = settings.secret.get_secret_value().encode()
        #: a time-limited step's process is killed this long after its soft limit
        self._hard_limit_grace_s = max(settings.cancel_grace_s, 1.0)
        #: the broker's Redis, opened on the first withdraw (None: the broker is not Redis)
        self._broker_url = settings.broker_url
        self._broker: redis.Redis | None = None
        self._publisher = StepPublisher(self.app, settings.sent_events)
        #: a producer of the app's pool, kept from one send to the next
        self._producer: Any = None
        #: a Redis broker and no task-sent events: messages go straight onto its lists
        self._direct = (
            urlsplit(settings.broker_url).scheme in _REDIS_SCHEMES and not settings.sent_events
        )
        #: ...which are in storage's own database: the coordinator sends with its writes
        self.shares_store = self._direct and settings.broker_url == settings.redis_url
        #: the queues declared on the broker by this dispatcher
        self._declared: set[str] = set()

    def dispatch(self, deliveries: Sequence[Delivery]) -> None:
        if not deliveries:
            return
        if self._direct:
            self._push(self._pushes(deliveries), len(deliveries))
            return
        messages = [self._message(delivery) for delivery in deliveries]
        try:
            producer = self._kept_producer()
            connection = producer.connection
            # what a broker that is away raises, as kombu's transports name it
            failures = (*_FAILURES, *connection.recoverable_connection_errors)
            failures += tuple(connection.recoverable_channel_errors)
        except _FAILURES as exc:
            raise BrokerError(f"the broker did not take {len(deliveries)} step(s): {exc}") from exc
        try:
            batch: Any = getattr(producer, "batch", None)  # kombu >= 5.7
            with batch() if batch is not None else contextlib.nullcontext():
                self._publisher.publish(producer, messages)
        except failures as exc:
            self._release_producer()  # the next send starts from a fresh one
            raise BrokerError(f"the broker did not take {len(deliveries)} step(s): {exc}") from exc

    def stage(self, deliveries: Sequence[Delivery]) -> list[tuple[str, bytes]] | None:
        return self._pushes(deliveries) if self.shares_store else None

    def _pushes(self, deliveries: Sequence[Delivery]) -> list[tuple[str, bytes]]:
        """The broker-list pushes of these steps (each queue declared the first time)."""
        fresh = {delivery.queue for delivery in deliveries} - self._declared
        if fresh:
            try:
                producer = self._kept_producer()
                for queue in sorted(fresh):
                    self._publisher.declare(producer, queue)
            except _FAILURES as exc:
                self._release_producer()
                raise BrokerError(f"the broker did not declare {sorted(fresh)}: {exc}") from exc
            self._declared |= fresh
        return self._publisher.redis_pushes([self._message(d) for d in deliveries])

    def _push(self, pushes: Sequence[tuple[str, bytes]], steps: int) -> None:
        client = self._broker_client()
        assert client is not None  # a Redis broker (``_direct``)
        try:
            with client.pipeline(transaction=False) as pipe:
                for key, payload in pushes:
                    pipe.lpush(key, payload)
                pipe.execute()
        except redis.RedisError as exc:
            raise BrokerError(f"the broker did not take {steps} step(s): {exc}") from exc

    def _kept_producer(self) -> Any:
        """The producer this dispatcher keeps from the app's pool between sends."""
        if self._producer is None:
            self._producer = self.app.producer_pool.acquire(block=True)
        return self._producer

    def _release_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            producer.release()

    def _message(self, delivery: Delivery) -> StepMessage:
        request = delivery.request
        kwargs = request.model_dump(mode="json")
        kwargs["signature"] = step_signature(self._secret, request)
        limit = delivery.time_limit_s  # Celery's soft limit; the hard one comes after a grace
        logger.debug("dispatch %s #%d to %s", request.step_key, request.attempt, delivery.queue)
        return StepMessage(
            task_id=task_id(request),
            # the task's name as workers report it (Flower lists and labels its metrics
            # by it): job and step, a bounded set; the run and attempt are in the label
            shadow=f"{request.job_name}:{template_of(request.step_key)}",
            label=(
                f"run={request.run_id} job={request.job_name} step={request.step_key} "
                f"attempt={request.attempt}"
            ),
            kwargs=kwargs,
            queue=delivery.queue,
            priority=delivery.priority,
            time_limit_s=None if limit is None else limit + self._hard_limit_grace_s,
            soft_time_limit_s=limit,
        )

    def revoke(self, task_ids: Sequence[str]) -> None:
        if not task_ids:
            return
        try:
            self.app.control.revoke(list(task_ids))
        except (KombuOperationalError, OSError) as exc:
            raise BrokerError(f"the broker did not take a revoke: {exc}") from exc

    def withdraw(self, queued: Mapping[str, Sequence[str]]) -> int:
        """kombu's Redis transport keeps a list per queue and priority step
        (``keys.queue_lists``); each waiting message names its task id in its headers."""
        client = self._broker_client()
        if client is None:
            return 0
        removed = 0
        try:
            for queue, ids in queued.items():
                if ids:
                    removed += sum(_withdraw(client, key, set(ids)) for key in queue_lists(queue))
        except redis.RedisError as exc:
            raise BrokerError(f"the broker did not take a withdrawal: {exc}") from exc
        if removed:
            logger.debug("withdrew %d queued step message(s)", removed)
        return removed

    def _broker_client(self) -> redis.Redis | None:
        if self._broker is None and urlsplit(self._broker_url).scheme in _REDIS_SCHEMES:
            self._broker = connect(self._broker_url)
        return self._broker

    def close(self) -> None:
        self._release_producer()
        if self._broker is not None:
            self._broker.close()
        self.app.close()


#: What a publish raises when the broker did not (or maybe did not) take it: connection
#: errors, and kombu's ``BatchPublishError`` (a ``KombuError``) when a batch's flush failed
#: midway ("delivery is uncertain": sending again is safe, a duplicate delivery is
#: dropped by its claim).
_FAILURES: tuple[type[BaseException], ...] = (
    KombuOperationalError,
    KombuError,
    redis.RedisError,
    OSError,
)
#: Broker URL schemes of kombu's Redis transports (whose queues are Redis lists).
_REDIS_SCHEMES = ("redis", "rediss", "redis+sentinel", "rediss+sentinel")
#: Messages read from a queue's list at a time while withdrawing.
_WITHDRAW_PAGE = 500


def _withdraw(client: redis.Redis, key: str, task_ids: set[str]) -> int:
    """Remove the messages of ``task_ids`` from the list ``key``, a page at a time (workers
    may pop meanwhile: a message one took is simply not found)."""
    removed, start = 0, 0
    while True:
        page: list[Any] = client.lrange(key, start, start + _WITHDRAW_PAGE - 1)
        gone = 0
        for raw in page:
            if _task_id_of(raw) in task_ids:
                gone += int(client.lrem(key, 1, raw))
        removed += gone
        if len(page) < _WITHDRAW_PAGE:
            return removed
        start += _WITHDRAW_PAGE - gone


def _task_id_of(raw: Any) -> str | None:
    """The task id in a kombu message's headers; None for anything else on the list."""
    try:
        message = json.loads(raw)
        task = message["headers"]["id"]
    except (ValueError, TypeError, KeyError):
        return None
    return task if isinstance(task, str) else None
