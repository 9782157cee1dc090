"""The worker's side of schedules and sensors: publish them, evaluate their ticks.

When a worker starts it publishes the schedules and sensors of its code locations
(``InstigatorDef``: names, cron strings, intervals, default statuses, its queue), so
the scheduler, which never imports user code, knows what to tick and where to send
the ticks. An ``opgrid.tick`` task names a tick the scheduler leader recorded as
started; the worker resolves the schedule or sensor by name in its code locations,
runs ``evaluate_tick``, applies the run-key rule, compiles the plan of each run to
launch under a run id derived from the tick, and records all of it with the tick's
new cursor in one transaction that succeeds only while the tick awaits its result.
A second delivery of the same tick, or a tick another worker already evaluated,
finds the result in and is dropped; the leader then creates the runs
(``create_run_once``), so each tick's runs are launched at most once.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery, signals

from opgrid.code_location import CodeLocation
from opgrid.errors import OpgridError, StorageError
from opgrid.orchestrator.planning.compiler import compile_plan
from opgrid.orchestrator.scheduling.definitions import instigator_defs
from opgrid.orchestrator.scheduling.evaluation import (
    RequestedRun,
    TickError,
    TickResult,
    TickStatus,
    evaluate_tick,
)
from opgrid.orchestrator.scheduling.run_keys import new_run_requests
from opgrid.orchestrator.scheduling.tick_task import (
    EVALUATE_TICK,
    TickTask,
    admit_tick,
    tick_run_id,
)
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.base import RunStore
from opgrid.orchestrator.store.redis import RedisRunStore
from opgrid.orchestrator.store.tick_records import PlannedRun, TickRecord

from .locations import LocationRegistry

logger = logging.getLogger(__name__)

#: The run tags naming the tick that launched a run and its run key (Dagster's).
TICK_TAG = "dagster/tick"
RUN_KEY_TAG = "dagster/run_key"


def register_tick_task(app: Celery, settings: Settings, registry: LocationRegistry) -> None:
    """Give ``app`` the ``opgrid.tick`` task, and publish its schedules and sensors when
    the worker starts."""
    secret = settings.secret.get_secret_value().encode()
    stores: dict[int, RedisRunStore] = {}

    def store() -> RedisRunStore:  # one per process: pool processes fork after import
        pid = os.getpid()
        if pid not in stores:
            stores[pid] = RedisRunStore.from_settings(settings)
        return stores[pid]

    @app.task(name=EVALUATE_TICK, shared=False, acks_late=True, ignore_result=True)
    def evaluate(**fields: Any) -> str:
        task = admit_tick(secret, fields)
        if isinstance(task, str):  # malformed or forged: logged, acked, never retried
            logger.error("refused an %s message: %s", EVALUATE_TICK, task)
            return "refused: malformed or forged"
        locations = [registry.load(spec) for spec in settings.location_list()]
        return TickEvaluator(store(), locations, settings.namespace).evaluate(task)

    @signals.worker_init.connect(weak=False)  # in every worker, embedded ones too
    def _publish(sender: Any, **_: Any) -> None:
        if sender.app is not app:
            return
        queue = next(iter(app.amqp.queues.consume_from), settings.default_queue)
        locations = [registry.load(spec) for spec in settings.location_list()]
        defs = [d for location in locations for d in instigator_defs(location, queue)]
        try:
            store().publish_instigators(defs, [location.name for location in locations])
        except StorageError:  # the scheduler will not know them until the worker restarts
            logger.error("could not publish the schedules and sensors", exc_info=True)
            return
        logger.info("published %d schedule(s) and sensor(s) on queue %s", len(defs), queue)


class TickEvaluator:
    """Evaluates ticks against the code locations of this worker and records them."""

    def __init__(self, store: RunStore, locations: list[CodeLocation], namespace: str):
        self.store = store
        self.locations = {location.name: location for location in locations}
        self.namespace = namespace

    def evaluate(self, task: TickTask) -> str:
        stored = self.store.get_tick(task.origin, task.tick_id)
        if stored is None:  # never started in this namespace, or long trimmed
            logger.warning("tick %s of %s is not recorded; dropped", task.tick_id, task.origin)
            return "dropped: no such tick"
        if stored.evaluated:
            logger.info("tick %s of %s: evaluated already, dropped", task.tick_id, task.origin)
            return "dropped: evaluated already"
        location = self.locations.get(task.location)
        if location is None:
            served = ", ".join(sorted(self.locations)) or "none"
            error = TickError(
                cls_name="DagsterInvariantViolationError",
                message=f"this worker does not serve code location {task.location!r} "
                f"(it serves: {served})",
            )
            record = stored.with_result(
                TickStatus.FAILURE, error=error, cursor=stored.request.cursor
            )
        else:
            record = self._record(stored, location, evaluate_tick(location, task.request))
        if not self.store.commit_tick(record):
            logger.info("tick %s of %s: a result was in first, dropped", task.tick_id, task.origin)
            return "dropped: evaluated already"
        logger.info(
            "tick %s of %s: %s, %d run(s) to launch",
            task.tick_id,
            task.origin,
            record.status,
            len(record.planned),
        )
        return f"{record.status}: {len(record.planned)} run(s)"

    def _record(self, stored: TickRecord, location: CodeLocation, result: TickResult) -> TickRecord:
        if result.status is not TickStatus.SUCCESS:
            return stored.with_result(
                result.status,
                skip_reason=result.skip_reason,
                error=result.error,
                cursor=result.cursor,
            )
        decision = new_run_requests(
            result.run_requests, self.store.launched_run_keys(stored.origin)
        )
        try:
            planned = [
                self._planned(stored, location, index, run)
                for index, run in enumerate(decision.to_launch)
            ]
        except (OpgridError, ValueError) as exc:  # a bad run config: the tick fails
            return stored.with_result(
                TickStatus.FAILURE,
                error=TickError.from_exception(exc),
                cursor=stored.request.cursor,
            )
        skipped = [run.run_key for run in decision.already_launched if run.run_key is not None]
        status = TickStatus.SUCCESS if planned else TickStatus.SKIPPED
        return stored.with_result(
            status,
            planned=planned,
            run_ids=[run.run_id for run in planned],
            run_keys=decision.new_run_keys,
            skipped_run_keys=skipped,
            skip_reason=None if planned else f"run keys requested before: {', '.join(skipped)}",
            cursor=result.cursor,
        )

    def _planned(
        self, stored: TickRecord, location: CodeLocation, index: int, run: RequestedRun
    ) -> PlannedRun:
        job = location.get_job(run.job_name)
        tags = {**run.tags, TICK_TAG: stored.tick_id}
        if run.run_key is not None:
            tags[RUN_KEY_TAG] = run.run_key
        plan = compile_plan(job, run.run_config or None, partition_key=run.partition_key, tags=tags)
        return PlannedRun(
            run_id=tick_run_id(self.namespace, stored.origin, stored.tick_id, index),
            job_name=job.name,
            location=location.name,
            tags=tags,
            partition_key=run.partition_key,
            run_key=run.run_key,
            plan=plan,
        )
