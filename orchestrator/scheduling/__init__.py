"""The pure logic of schedules, sensors and backfills.

No Redis, Celery, clock or logging: definitions from ``opgrid``, recorded state and the
current time come in, decisions and JSON-ready results go out. A worker of the code
location publishes ``describe_location`` (so the scheduler never loads user code) and runs
``evaluate_tick``; the scheduler (a leader among the coordinators) decides with ``ticks``
when to tick and applies ``run_keys`` and ``backfill`` before launching runs. The
``opgrid.tick`` task that carries a tick to the worker, and the run ids fixed by a tick
or a backfill partition, are in ``tick_task``; what workers publish, in ``definitions``.
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
from .definitions import InstigatorDef, instigator_defs
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
from .tick_task import (
    EVALUATE_TICK,
    TickTask,
    admit_tick,
    backfill_run_id,
    origin_of,
    sign_tick,
    tick_run_id,
)
from .ticks import ScheduleTick, SensorTick, schedule_tick, sensor_tick, ticks_between

__all__ = [
    "BACKFILL_ID_TAG",
    "EVALUATE_TICK",
    "Backfill",
    "BackfillProgress",
    "InstigatorDef",
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
    "TickTask",
    "admit_tick",
    "backfill_run_id",
    "describe_location",
    "evaluate_tick",
    "instigator_defs",
    "last_run_key",
    "new_run_requests",
    "next_partitions",
    "origin_of",
    "parse_partition_list",
    "schedule_tick",
    "select_partitions",
    "sensor_tick",
    "sign_tick",
    "tick_run_id",
    "ticks_between",
]
