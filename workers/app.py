"""The Celery app of the workers: ``celery -A opgrid.workers.app worker|flower|inspect``.

``make_app(settings)`` builds an app with the one ``opgrid.step`` task; the
module-level ``app`` is built from ``OPGRID_*`` environment variables and
serves the code locations in ``OPGRID_LOCATIONS``.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, signals
from celery.utils.log import ColorFormatter

from opgrid.errors import RunNotFound
from opgrid.orchestrator.logs import use_format
from opgrid.orchestrator.protocol.messages import EXECUTE_STEP
from opgrid.orchestrator.protocol.signing import admit_step
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.connect import broker_conf
from opgrid.orchestrator.store.envelopes import io_manager_from_settings
from opgrid.orchestrator.store.redis import RedisRunStore
from opgrid.orchestrator.store.registry import secret_fingerprint

from .acks import LiveChannel, guarded_request, track_live_channel
from .deaths import DeathRecorder
from .locations import LocationRegistry
from .outcome import as_celery_result
from .presence import WorkerPresence, celery_describer
from .reaper import Reaper
from .runtime import WorkerRuntime
from .ticks import register_tick_task
from .transport import use_for_redis_urls

logger = logging.getLogger(__name__)


def make_app(settings: Settings | None = None, locations: LocationRegistry | None = None) -> Celery:
    """A worker app: JSON only, late acks, prefetch 1, task events on, no result backend."""
    settings = settings or Settings()
    registry = locations or LocationRegistry()
    use_for_redis_urls()  # kombu's Redis transport, refusing junk items on a queue
    broker_url, conf = broker_conf(settings.broker_url)
    app = Celery("opgrid", broker=broker_url, set_as_current=False)
    _configure(app, settings, conf)
    for spec in settings.location_list():  # in the parent, before the pool forks
        registry.load(spec)
    runtime = _Runtime(settings, registry)
    live = LiveChannel()  # acks of messages whose broker connection was lost go through it
    track_live_channel(app, live)
    deaths = DeathRecorder(settings)  # pool processes that died running a step
    secret = settings.secret.get_secret_value().encode()

    @app.task(
        name=EXECUTE_STEP,
        shared=False,
        acks_late=True,
        reject_on_worker_lost=True,
        ignore_result=True,
        Request=guarded_request(live, deaths.record),
    )
    def execute_step(**fields: Any) -> str:
        request = admit_step(secret, fields)
        if isinstance(request, str):  # malformed or forged: logged, acked, never retried
            logger.error("refused an %s message: %s", EXECUTE_STEP, _refusal(request, secret))
            return "refused: malformed or forged"
        try:
            outcome = runtime().execute(request)
        except RunNotFound as exc:  # signed, but its run is gone (pruned, expired) or never was
            extra = {"run_id": request.run_id, "step_key": request.step_key}
            logger.error("refused the step %s: %s", request.step_key, exc, extra=extra)
            return f"refused: {exc}"
        return as_celery_result(outcome)  # FAILURE, RETRY, REVOKED as Celery users read them

    signals.worker_process_init.connect(runtime.forked, weak=False)
    _announce_while_running(app, settings)
    register_tick_task(app, settings, registry)
    app.opgrid_locations = registry  # type: ignore[attr-defined]
    app.opgrid_runtime = runtime  # type: ignore[attr-defined]
    return app


class _Runtime:
    """This process's ``WorkerRuntime``, built on first use."""

    def __init__(self, settings: Settings, registry: LocationRegistry) -> None:
        self.settings = settings
        self.registry = registry
        self.in_pool_process = False
        self._runtime: WorkerRuntime | None = None

    def __call__(self) -> WorkerRuntime:
        if self._runtime is None:
            # the stores are built here, at the entry point (a test passes in-memory ones)
            store = RedisRunStore.from_settings(self.settings)
            io = io_manager_from_settings(self.settings)
            self._runtime = WorkerRuntime(
                self.settings, self.registry, store, io, self.in_pool_process
            )
        return self._runtime

    def forked(self, **_: Any) -> None:
        """A forked pool process opens its own Redis connections (and may be killed
        to stop a step that ignores a cancel)."""
        self._runtime = None
        self.in_pool_process = True


def _configure(app: Celery, settings: Settings, broker: dict[str, Any]) -> None:
    transport_options = broker.pop("broker_transport_options")  # a Sentinel's master_name
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        # prints stay prints: a step's go to its captured output (``capture``), the rest
        # to the worker's stdout, not relabelled as WARNING log lines
        worker_redirect_stdouts=False,
        worker_send_task_events=True,
        task_send_sent_event=True,
        task_default_queue=settings.default_queue,
        broker_connection_retry_on_startup=True,
        **broker,  # rediss://: check the certificate; RabbitMQ: queue priorities
        # a message not acknowledged this long after delivery goes back to the queue;
        # steps that run longer keep their claim by heartbeats, so the copy is dropped
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout_s,
            **transport_options,
        },
        # a running step outlives a broker outage: its result goes to Redis, not the broker
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )


def _announce_while_running(app: Celery, settings: Settings) -> None:
    """The main process lists the worker in the cluster's live workers while it runs,
    and kills pool processes whose op is beyond asking (``reaper``) until its shutdown
    is over (a warm shutdown waits for the pool)."""
    presence: list[WorkerPresence] = []
    reapers: list[Reaper] = []

    @signals.worker_ready.connect(weak=False)
    def _announce(sender: Any, **_: Any) -> None:
        if sender.app is app:
            queues = list(app.amqp.queues.consume_from)
            describe = celery_describer(sender)
            presence.append(WorkerPresence.start_for(settings, sender.hostname, queues, describe))
            reapers.append(Reaper.start_for(settings))

    @signals.worker_shutdown.connect(weak=False)
    def _retire(sender: Any, **_: Any) -> None:
        while presence and sender.app is app:
            presence.pop().stop()
        while reapers and sender.app is app:
            reapers.pop().stop()


def _refusal(problem: str, secret: bytes) -> str:
    """The line for a refused request; a signature problem also says how to tell whether
    the secrets differ (a request signed with another secret fails exactly like a forged
    one, so the worker cannot record a failure for it: see README, Reliability)."""
    if " signature" not in problem.partition(" on the request ")[0]:
        return problem
    return (
        f"{problem} (this worker's OPGRID_SECRET has fingerprint "
        f"{secret_fingerprint(secret)}; a coordinator holding another secret sends steps "
        "this worker cannot run, and they stay queued: submitting warns of such workers)"
    )


@signals.after_setup_logger.connect(weak=False)
@signals.after_setup_task_logger.connect(weak=False)
def _log_format(**fields: Any) -> None:
    """Celery's own handlers write ``OPGRID_LOG_FORMAT`` lines naming the run and step."""
    for handler in fields["logger"].handlers:
        if isinstance(handler.formatter, ColorFormatter):  # not one a test runner set up
            use_format(handler, Settings().log_format, keep_base=True)


app = make_app()
