"""The step messages the Celery dispatcher publishes, on kombu's in-memory broker.

A step message must be the Celery task message ``send_task`` writes (workers, Flower
and ``celery inspect`` read it as any task), published without ``send_task``'s
per-message work: each queue is declared once per broker connection, and a broker that
is away gives a ``BrokerError`` the next send recovers from.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kombu import Producer

from opgrid.errors import BrokerError
from opgrid.orchestrator.coordinator.dispatch import CeleryDispatcher, Delivery
from opgrid.orchestrator.coordinator.publisher import StepPublisher, keep_client
from opgrid.orchestrator.protocol.messages import EXECUTE_STEP, StepRequest, task_id
from opgrid.orchestrator.protocol.signing import step_signature
from opgrid.orchestrator.settings import Settings

SECRET = "publisher-secret"


@pytest.fixture
def settings() -> Settings:
    return Settings(
        broker_url="memory://",
        redis_url="redis://127.0.0.1:1/0",  # never opened here
        secret=SECRET,
        default_queue=f"default-{uuid.uuid4().hex[:6]}",
    )


@pytest.fixture
def dispatcher(settings: Settings) -> Iterator[CeleryDispatcher]:
    sent = CeleryDispatcher(settings)
    yield sent
    sent.close()


def _request(step: str = "graph.add_one[a]", attempt: int = 2) -> StepRequest:
    return StepRequest(
        run_id="run-7", step_key=step, attempt=attempt, job_name="nightly", location="jobs.py"
    )


def _queue() -> str:
    return f"q-{uuid.uuid4().hex[:8]}"


def _take(app: Any, queue: str) -> list[Any]:
    """Every message waiting on ``queue`` (kombu messages: headers, properties, body)."""
    with app.connection_for_read() as connection:
        waiting = connection.SimpleQueue(queue)
        messages = []
        while True:
            try:
                message = waiting.get(timeout=0.2)
            except waiting.Empty:
                return messages
            message.ack()
            messages.append(message)


def _as_send_task_writes(app: Any, queue: str, request: StepRequest, limit: float) -> None:
    """The message Celery's own ``send_task`` writes for this step, for comparison."""
    kwargs = request.model_dump(mode="json")
    kwargs["signature"] = step_signature(SECRET.encode(), request)
    app.send_task(
        EXECUTE_STEP,
        kwargs=kwargs,
        queue=queue,
        priority=4,
        task_id=task_id(request),
        soft_time_limit=limit,
        time_limit=limit + 10.0,  # the grace: Settings.cancel_grace_s
        shadow="nightly:graph.add_one",
        argsrepr="()",
        kwargsrepr=(f"run=run-7 job=nightly step={request.step_key} attempt={request.attempt}"),
    )


def test_a_step_message_is_the_task_message_celerys_send_task_writes(
    dispatcher: CeleryDispatcher,
):
    queue, request = _queue(), _request()
    dispatcher.dispatch([Delivery(request, queue, priority=4, time_limit_s=30.0)])
    _as_send_task_writes(dispatcher.app, queue, request, 30.0)
    ours, celerys = _take(dispatcher.app, queue)
    assert ours.headers == {**celerys.headers, "origin": ours.headers["origin"]}
    assert ours.headers["task"] == EXECUTE_STEP
    assert ours.headers["shadow"] == "nightly:graph.add_one"
    assert ours.headers["timelimit"] == [40.0, 30.0]
    assert json.loads(ours.body) == json.loads(celerys.body)
    assert (ours.content_type, ours.content_encoding) == ("application/json", "utf-8")
    for name in ("correlation_id", "reply_to", "delivery_mode", "priority"):
        assert ours.properties[name] == celerys.properties[name], name
    assert ours.delivery_info["routing_key"] == celerys.delivery_info["routing_key"] == queue


def test_each_queue_is_declared_once_per_connection_not_per_message(
    dispatcher: CeleryDispatcher, monkeypatch: pytest.MonkeyPatch
):
    declared: list[str] = []
    original = Producer.maybe_declare

    def counted(self: Producer, entity: Any, *args: Any, **kwargs: Any) -> Any:
        declared.append(entity.name)
        return original(self, entity, *args, **kwargs)

    monkeypatch.setattr(Producer, "maybe_declare", counted)
    first, second = _queue(), _queue()
    steps = [Delivery(_request(f"s{i}"), first if i % 2 else second) for i in range(6)]
    dispatcher.dispatch(steps[:3])
    dispatcher.dispatch(steps[3:])
    assert sorted(declared) == sorted([first, second])
    assert len(_take(dispatcher.app, first)) == 3
    assert len(_take(dispatcher.app, second)) == 3


def test_a_broker_that_fails_a_send_gives_a_broker_error_and_the_next_send_goes(
    dispatcher: CeleryDispatcher, monkeypatch: pytest.MonkeyPatch
):
    queue = _queue()
    publish = StepPublisher.publish

    def away(self: StepPublisher, producer: Any, messages: Any) -> None:
        raise ConnectionResetError("connection reset by peer")

    monkeypatch.setattr(StepPublisher, "publish", away)
    with pytest.raises(BrokerError, match=r"did not take 1 step\(s\): connection reset"):
        dispatcher.dispatch([Delivery(_request(), queue)])
    monkeypatch.setattr(StepPublisher, "publish", publish)
    dispatcher.dispatch([Delivery(_request(), queue)])
    assert [m.headers["id"] for m in _take(dispatcher.app, queue)] == [task_id(_request())]


def test_with_sent_events_each_step_also_announces_itself_as_sent(settings: Settings):
    events: list[tuple[str, dict[str, Any]]] = []
    sent = CeleryDispatcher(settings.model_copy(update={"sent_events": True}))
    try:
        publisher: Any = sent._publisher
        publisher._events.publish = lambda kind, fields, producer: events.append((kind, fields))
        queue = _queue()
        sent.dispatch([Delivery(_request(), queue)])
    finally:
        sent.close()
    ((kind, fields),) = events
    assert kind == "task-sent"
    assert fields["uuid"] == task_id(_request())
    assert (fields["name"], fields["queue"], fields["routing_key"]) == (EXECUTE_STEP, queue, queue)
    assert fields["kwargs"] == "run=run-7 job=nightly step=graph.add_one[a] attempt=2"


def test_a_redis_channel_keeps_one_client_per_pool():
    class Channel:
        made = 0

        def Client(self, **kwargs: Any) -> object:
            Channel.made += 1
            return object()

    channel: Any = Channel()
    keep_client(channel)
    keep_client(channel)  # once is enough
    pool, other = object(), object()
    first = channel.Client(connection_pool=pool)
    assert channel.Client(connection_pool=pool) is first
    assert channel.Client(connection_pool=other) is not first
    assert Channel.made == 2
