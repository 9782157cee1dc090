"""The pure logic of schedules, sensors and backfills.

No Redis, Celery, clock or logging: definitions from ``opgrid``, recorded state and the
current time come in, decisions and JSON-ready results go out. The scheduler (a leader
among the coordinators) decides with ``ticks`` when to tick; a worker of the code location
runs ``evaluate_tick``; the scheduler applies ``run_keys`` and ``backfill`` to what comes
back before launching runs.
"""

from .backfill import (
    BACKFILL_ID_TAG,
    Backfill,
    BackfillProgress,
    next_partitions,
    parse_partition_list,
    select_partitions,
)
from .evaluation import (
    InstigatorType,
    RequestedRun,
    RunStatusChange,
    TickError,
    TickRequest,
    TickResult,
    TickStatus,
    evaluate_tick,
)
from .run_keys import RunKeyDecision, last_run_key, new_run_requests
from .ticks import ScheduleTick, SensorTick, schedule_tick, sensor_tick, ticks_between

__all__ = [
    "BACKFILL_ID_TAG",
    "Backfill",
    "BackfillProgress",
    "InstigatorType",
    "RequestedRun",
    "RunKeyDecision",
    "RunStatusChange",
    "ScheduleTick",
    "SensorTick",
    "TickError",
    "TickRequest",
    "TickResult",
    "TickStatus",
    "evaluate_tick",
    "last_run_key",
    "new_run_requests",
    "next_partitions",
    "parse_partition_list",
    "schedule_tick",
    "select_partitions",
    "sensor_tick",
    "ticks_between",
]
