"""Publishing ``opgrid.step`` messages: a Celery task message per step, built cheaply.

Celery's ``send_task`` re-routes, re-declares the queue, builds a retry wrapper and
copies its options for every message; a coordinator sending thousands of steps a
second pays that per step. ``StepPublisher`` does the per-queue work once (the queue's
kombu entity, its delivery mode, its declaration: once per broker connection, with
kombu's own cache of declared entities) and the per-step work only: the message is
Celery's task protocol 2, as ``send_task`` writes it (task name, id, shadow,
argsrepr/kwargsrepr, timelimit, root/parent ids, origin), so Celery workers, Flower
and ``celery inspect`` read it as any task; the body is JSON, serialized once.
Messages go to the broker's default exchange with the queue's name as routing key,
where ``send_task`` sends a direct queue's messages too. On a Redis broker the same
messages can be written straight onto the queue's list, as kombu's Redis transport
keeps them (``redis_pushes``), which saves kombu's layers per message and lets the
coordinator send them in the round trip of its writes.

kombu's Redis channels build a new ``redis.Redis`` client (and its table of response
callbacks) for every publish batch; ``keep_client`` makes a channel reuse one client
per connection pool instead (a client is only a handle on its pool).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from celery import Celery
from celery.utils.nodenames import anon_nodename
from pydantic_core import to_json

from opgrid.orchestrator.protocol.messages import EXECUTE_STEP
from opgrid.orchestrator.store.keys import queue_list_for

#: The body's third part: no canvas (opgrid never chains Celery tasks).
_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
#: How the body is encoded (JSON only, never pickle).
CONTENT_TYPE = "application/json"
CONTENT_ENCODING = "utf-8"


@dataclass(frozen=True, slots=True)
class StepMessage:
    """What one step attempt is sent as (the parts that differ from step to step)."""

    task_id: str
    #: the name workers and Flower show (``job:step``)
    shadow: str
    #: the repr Flower shows for the keyword arguments (``run=... step=...``)
    label: str
    #: the task's keyword arguments (the signed step request)
    kwargs: dict[str, Any]
    queue: str
    priority: int | None = None
    #: Celery's (hard, soft) limits in seconds, or None
    time_limit_s: float | None = None
    soft_time_limit_s: float | None = None


@dataclass(frozen=True, slots=True)
class _Route:
    """What is the same for every message to one queue."""

    entity: Any  # kombu.Queue (Celery's declaration of it, priorities included)
    #: kombu's key for the entity in a connection's ``declared_entities``
    ident: int
    delivery_mode: int


class StepPublisher:
    """Publishes step messages through a kombu producer of ``app`` (one per batch)."""

    def __init__(self, app: Celery, sent_events: bool = False) -> None:
        self.app = app
        self._routes: dict[str, _Route] = {}
        #: the header fields every step message has alike (protocol 2)
        self._template: dict[str, Any] = {
            "lang": "py",
            "task": EXECUTE_STEP,
            "eta": None,
            "expires": None,
            "group": None,
            "group_index": None,
            "retries": 0,
            "parent_id": None,
            "argsrepr": "()",
            "origin": anon_nodename(),
            "ignore_result": None,
            "replaced_task_nesting": 0,
            "stamped_headers": None,
            "stamps": {},
        }
        #: Celery's task-sent events (for Flower), when asked for
        self._events: Any = app.events.Dispatcher(enabled=False) if sent_events else None

    def headers(self, message: StepMessage) -> dict[str, Any]:
        """The message's protocol 2 headers."""
        return {
            **self._template,
            "id": message.task_id,
            "shadow": message.shadow,
            "timelimit": [message.time_limit_s, message.soft_time_limit_s],
            "root_id": message.task_id,
            "kwargsrepr": message.label,
        }

    def publish(self, producer: Any, messages: list[StepMessage]) -> None:
        """Publish ``messages`` in order through ``producer`` (declaring each queue on
        the producer's connection the first time it is used there)."""
        reply_to = self.app.thread_oid
        keep_client(producer.channel)
        declared = producer.connection.declared_entities
        for message in messages:
            route = self._route(message.queue)
            if route.ident not in declared:
                producer.maybe_declare(route.entity)
            headers = self.headers(message)
            body = json.dumps(((), message.kwargs, _EMBED))
            producer.publish(
                body,
                exchange="",
                routing_key=message.queue,
                content_type=CONTENT_TYPE,
                content_encoding=CONTENT_ENCODING,
                headers=headers,
                priority=message.priority or 0,
                delivery_mode=route.delivery_mode,
                declare=[],
                retry=False,
                correlation_id=message.task_id,
                reply_to=reply_to,
            )
            if self._events is not None:
                self._sent_event(producer, message, headers)

    def redis_pushes(self, messages: Sequence[StepMessage]) -> list[tuple[str, bytes]]:
        """The messages as kombu's Redis transport keeps them waiting: for each, the
        queue's list for its priority and the JSON envelope kombu's ``Channel._put``
        pushes there (the body base64-encoded, a delivery tag of its own), so that a
        Celery worker's kombu consumer reads it as any message ``publish`` sends. (JSON
        by pydantic's encoder, three times as fast as the standard library's here.)"""
        reply_to = self.app.thread_oid
        pushes = []
        for message in messages:
            priority = message.priority or 0
            body = to_json(((), message.kwargs, _EMBED))
            envelope = {
                "body": base64.b64encode(body).decode(),
                "content-encoding": CONTENT_ENCODING,
                "content-type": CONTENT_TYPE,
                "headers": self.headers(message),
                "properties": {
                    "correlation_id": message.task_id,
                    "reply_to": reply_to,
                    "delivery_mode": self._route(message.queue).delivery_mode,
                    "delivery_info": {"exchange": "", "routing_key": message.queue},
                    "priority": priority,
                    "body_encoding": "base64",
                    "delivery_tag": str(uuid.uuid4()),
                },
            }
            pushes.append((queue_list_for(message.queue, priority), to_json(envelope)))
        return pushes

    def declare(self, producer: Any, queue: str) -> None:
        """Declare ``queue`` on the producer's connection, as ``publish`` does the first
        time it sends there."""
        producer.maybe_declare(self._route(queue).entity)

    def _route(self, queue: str) -> _Route:
        route = self._routes.get(queue)
        if route is None:
            entity = self.app.amqp.queues[queue]  # made as Celery makes a missing queue
            mode = entity.exchange.delivery_mode or self.app.conf.task_default_delivery_mode
            route = self._routes[queue] = _Route(entity, hash(entity), mode)
        return route

    def _sent_event(self, producer: Any, message: StepMessage, headers: dict[str, Any]) -> None:
        fields = {
            "uuid": message.task_id,
            "root_id": headers["root_id"],
            "parent_id": None,
            "name": EXECUTE_STEP,
            "args": headers["argsrepr"],
            "kwargs": message.label,
            "retries": 0,
            "eta": None,
            "expires": None,
            "queue": message.queue,
            "exchange": "",
            "routing_key": message.queue,
        }
        self._events.publish("task-sent", fields, producer)


class _KeptClients:
    """In place of a kombu Redis channel's ``Client`` class: one client per pool."""

    def __init__(self, make: Any) -> None:
        self.make = make
        #: id of a connection pool -> (the pool, its client)
        self.clients: dict[int, tuple[Any, Any]] = {}

    def __call__(self, **kwargs: Any) -> Any:
        pool = kwargs.get("connection_pool")
        if pool is None or len(kwargs) != 1:  # a credential provider: as kombu does
            return self.make(**kwargs)
        kept = self.clients.get(id(pool))
        if kept is None or kept[0] is not pool:
            kept = self.clients[id(pool)] = (pool, self.make(connection_pool=pool))
        return kept[1]


def keep_client(channel: Any) -> None:
    """Make a kombu Redis channel reuse its clients (other transports: nothing to do)."""
    make = getattr(channel, "Client", None)
    if make is not None and not isinstance(make, _KeptClients):
        channel.Client = _KeptClients(make)
