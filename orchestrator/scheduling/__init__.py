"""The pure logic of schedules, sensors and backfills.

No Redis, Celery, clock or logging: definitions from ``opgrid``, recorded state and the
current time come in, decisions and JSON-ready results go out. A worker of the code
location publishes ``describe_location`` (so the scheduler never loads user code) and runs
``evaluate_tick``; the scheduler (a leader among the coordinators) decides with ``ticks``
when to tick and applies ``run_keys`` and ``backfill`` before launching runs.
"""

from .backfill import (
    BACKFILL_ID_TAG,
    Backfill,
    BackfillProgress,
    next_partitions,
    parse_partition_list,
    select_partitions,
)
from .catalog import InstigatorInfo, describe_location
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
    "InstigatorInfo",
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
    "describe_location",
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
