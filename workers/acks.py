"""Acknowledging a step message whose broker connection was lost meanwhile.

A step runs for a while after its message arrived (late acks). When Redis restarts in
between, Celery's consumer drops the broken connection, closes its channels (kombu
restores their unacknowledged messages to the queue, or leaves them in the ``unacked``
hash while Redis is down) and connects again. The step's message still points at the
old, closed channel. kombu's Redis channel cannot always take an ack there: when
its close was interrupted (a BRPOP in flight when the connection broke), the channel
ends up closed with no connection pool while its transport has no connection any
more, and ``Message.ack()`` builds a new pool from ``transport.client``, which is
None: ``AttributeError: 'NoneType' object has no attribute 'hostname'``, raised in
the worker's event loop, which ends the worker.

opgrid's transport (``transport.Channel``) keeps what that pool needs, so such a
channel can be closed and acked on; on top of that, a step's request acknowledges (or
rejects) a message of a closed channel through the consumer's live channel, so the ack
does not depend on a channel kombu has given up on: the ``unacked`` hash and index are
the broker's, not the channel's, so removing the delivery tag there is the ack. With
no live channel (Redis still away) the message is left where it is: the broker
delivers it again after the visibility timeout, and the attempt's claim drops that
copy (the step has ended).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from billiard.einfo import ExceptionWithTraceback  # type: ignore[attr-defined]
from billiard.exceptions import WorkerLostError
from celery import Celery, bootsteps
from celery.worker.request import Request

logger = logging.getLogger(__name__)


class LiveChannel:
    """The channel the worker's task consumer reads from now (None while reconnecting)."""

    def __init__(self) -> None:
        self.channel: Any = None

    def usable(self) -> Any:
        channel = self.channel
        return channel if channel is not None and not _closed(channel) else None


def orphaned(message: Any) -> bool:
    """Whether ``message`` came on a Redis channel that has been closed since.

    Only kombu's Redis channels leave a closed channel's messages to be settled: on
    RabbitMQ a channel that closes hands its unacknowledged messages back itself.
    """
    channel = message.channel
    if channel is None:
        return True
    return hasattr(channel, "unacked_key") and _closed(channel)


def _closed(channel: Any) -> bool:
    """kombu's virtual channels say ``closed``; py-amqp's say ``is_open``."""
    if hasattr(channel, "closed"):
        return bool(channel.closed)
    return not getattr(channel, "is_open", True)


def settle_orphan(message: Any, live: LiveChannel, requeue: bool = False) -> str:
    """Ack ``message`` (or hand it back, ``requeue``) through the live channel; what was
    done, in a few words."""
    channel = live.usable()
    tag = message.delivery_tag
    if channel is None or not hasattr(channel, "unacked_key"):
        return "left for redelivery (no live broker channel)"
    try:
        if requeue:
            channel.qos.restore_by_tag(tag, leftmost=True)
            return "handed back through the new connection"
        with channel.conn_or_acquire() as client:
            pipe = client.pipeline()
            pipe.zrem(channel.unacked_index_key, tag).hdel(channel.unacked_key, tag).execute()
        return "acknowledged through the new connection"
    except channel.connection_errors as exc:  # Redis went away again: redelivered later
        return f"left for redelivery ({exc!r})"


def guarded_request(
    live: LiveChannel, on_lost: Callable[[Any, BaseException], None] | None = None
) -> type[Request]:
    """A Celery request class whose ack and reject survive a lost broker connection;
    ``on_lost(kwargs, error)`` hears of each pool process that died running one."""

    class GuardedRequest(Request):
        def on_failure(
            self, exc_info: Any, send_failed_event: bool = True, return_ok: bool = False
        ) -> None:
            lost = _lost_process(exc_info.exception)
            if on_lost is not None and lost is not None:
                on_lost(self.kwargs, lost)  # before the message goes back to the queue
            super().on_failure(exc_info, send_failed_event=send_failed_event, return_ok=return_ok)

        def acknowledge(self) -> None:
            if not self.acknowledged and orphaned(self.message):
                self._settle_orphan(requeue=False)
            if not self.acknowledged:  # Celery's, but see _ack_errors
                self._on_ack(logger, self._ack_errors())  # type: ignore[attr-defined]
                self.acknowledged = True

        def reject(self, requeue: bool = False) -> None:
            if not self.acknowledged and orphaned(self.message):
                self._settle_orphan(requeue=requeue)
            if not self.acknowledged:  # Celery's, but see _ack_errors
                self._on_reject(logger, self._ack_errors(), requeue)  # type: ignore[attr-defined]
                self.acknowledged = True
                self.send_event("task-rejected", requeue=requeue)

        def _ack_errors(self) -> tuple[type[BaseException], ...]:
            """What an ack may raise and only gets logged (Celery: connection errors).

            The ack runs a moment later, in the event loop; if the connection broke in
            between, kombu may raise AttributeError on the closed channel (see above).
            Logged at CRITICAL with its traceback, the message left for redelivery: an
            unacknowledged step message is dropped by its claim when it comes back.
            """
            return (*self._connection_errors, AttributeError)  # type: ignore[attr-defined]

        def _settle_orphan(self, requeue: bool) -> None:
            done = settle_orphan(self.message, live, requeue)
            logger.warning(
                "step message %s came on a broker connection that was lost: %s",
                self.id,
                done,
            )
            self.acknowledged = True

    return GuardedRequest


def _lost_process(exc: BaseException) -> BaseException | None:
    """The error saying that the pool process running a request died, if ``exc`` is one
    (billiard wraps it; billiard >= 4.3 may report the process's ``SystemExit``)."""
    if isinstance(exc, ExceptionWithTraceback):
        exc = exc.exc
    return exc if isinstance(exc, WorkerLostError | SystemExit) else None


def track_live_channel(app: Celery, live: LiveChannel) -> None:
    """Keep ``live`` on the task consumer's channel as the worker (re)connects."""

    class LiveChannelStep(bootsteps.StartStopStep):
        requires = ("celery.worker.consumer.tasks:Tasks",)

        def start(self, c: Any) -> None:
            live.channel = c.task_consumer.channel

        def stop(self, c: Any) -> None:
            live.channel = None

        def shutdown(self, c: Any) -> None:
            live.channel = None

    app.steps["consumer"].add(LiveChannelStep)
