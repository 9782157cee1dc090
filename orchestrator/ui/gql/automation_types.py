"""GraphQL types of schedules, sensors, their ticks and backfills, named and shaped as
Dagster's (``Schedule``, ``Sensor``, ``InstigationState``, ``InstigationTick``,
``PartitionBackfill``...), with only the fields opgrid fills truthfully."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import strawberry

from .types import Error, PipelineTag, PythonError, Run, UnauthorizedError
from .workspace import RepositoryNotFoundError


@strawberry.enum
class InstigationStatus(Enum):
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"


@strawberry.enum
class InstigationType(Enum):
    SCHEDULE = "SCHEDULE"
    SENSOR = "SENSOR"


@strawberry.enum
class InstigationTickStatus(Enum):
    STARTED = "STARTED"
    SKIPPED = "SKIPPED"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"


@strawberry.enum
class BulkActionStatus(Enum):
    REQUESTED = "REQUESTED"
    COMPLETED = "COMPLETED"
    CANCELED = "CANCELED"


@strawberry.type
class InstigationTick:
    id: strawberry.ID
    tick_id: strawberry.ID
    status: InstigationTickStatus
    instigation_type: InstigationType
    timestamp: float
    end_timestamp: float | None
    cursor: str | None
    skip_reason: str | None
    run_ids: list[str]
    run_keys: list[str]
    error: PythonError | None
    runs: list[Run]


@strawberry.type
class DryRunInstigationTick:
    timestamp: float | None


@strawberry.type
class ScheduleData:
    cron_schedule: str
    start_timestamp: float | None


@strawberry.type
class SensorData:
    last_tick_timestamp: float | None
    last_run_key: str | None
    last_cursor: str | None


InstigationTypeSpecificData = Annotated[
    ScheduleData | SensorData, strawberry.union("InstigationTypeSpecificData")
]


@strawberry.type
class InstigationState:
    """What the cluster records of a schedule or sensor; ``id`` is its origin
    (``schedule:<name>``, ``sensor:<name>``), which the stop mutations take."""

    id: strawberry.ID
    selector_id: str
    name: str
    instigation_type: InstigationType
    status: InstigationStatus
    repository_name: str
    repository_location_name: str
    type_specific_data: InstigationTypeSpecificData
    next_tick: DryRunInstigationTick | None
    all_ticks: strawberry.Private[list[InstigationTick]]

    @strawberry.field
    def ticks(
        self, limit: int | None = None, statuses: list[InstigationTickStatus] | None = None
    ) -> list[InstigationTick]:
        """The newest ticks first (of the last ``automation.TICKS_SHOWN``)."""
        found = [t for t in self.all_ticks if not statuses or t.status in statuses]
        return found[:limit] if limit is not None else found


@strawberry.type
class Target:
    pipeline_name: str


@strawberry.type
class Schedule:
    id: strawberry.ID
    name: str
    cron_schedule: str
    pipeline_name: str
    execution_timezone: str | None
    description: str | None
    default_status: InstigationStatus
    schedule_state: InstigationState


@strawberry.type
class Sensor:
    id: strawberry.ID
    job_origin_id: str
    name: str
    targets: list[Target]
    min_interval_seconds: int
    description: str | None
    default_status: InstigationStatus
    sensor_state: InstigationState
    next_tick: DryRunInstigationTick | None


@strawberry.type
class Schedules:
    results: list[Schedule]


@strawberry.type
class Sensors:
    results: list[Sensor]


@strawberry.type
class ScheduleNotFoundError(Error):
    schedule_name: str


@strawberry.type
class SensorNotFoundError(Error):
    sensor_name: str


@strawberry.type
class ScheduleStateResult:
    schedule_state: InstigationState


@strawberry.type
class StopSensorMutationResult:
    instigation_state: InstigationState | None


@strawberry.type
class PartitionBackfill:
    id: str
    status: BulkActionStatus
    job_name: str
    partition_names: list[str]
    num_partitions: int
    num_cancelable: int
    timestamp: float
    end_timestamp: float | None
    tags: list[PipelineTag]
    all_runs: strawberry.Private[list[Run]]

    @strawberry.field
    def runs(self, limit: int | None = None) -> list[Run]:
        """Its partitions' runs, in partition order."""
        return self.all_runs[:limit] if limit is not None else self.all_runs


@strawberry.type
class PartitionBackfills:
    results: list[PartitionBackfill]


@strawberry.type
class BackfillNotFoundError(Error):
    backfill_id: str


@strawberry.type
class CancelBackfillSuccess:
    backfill_id: str


SchedulesOrError = Annotated[
    Schedules | RepositoryNotFoundError | PythonError, strawberry.union("SchedulesOrError")
]
ScheduleOrError = Annotated[
    Schedule | ScheduleNotFoundError | PythonError, strawberry.union("ScheduleOrError")
]
SensorsOrError = Annotated[
    Sensors | RepositoryNotFoundError | PythonError, strawberry.union("SensorsOrError")
]
SensorOrError = Annotated[
    Sensor | SensorNotFoundError | UnauthorizedError | PythonError,
    strawberry.union("SensorOrError"),
]
ScheduleMutationResult = Annotated[
    ScheduleStateResult | ScheduleNotFoundError | UnauthorizedError | PythonError,
    strawberry.union("ScheduleMutationResult"),
]
StopSensorMutationResultOrError = Annotated[
    StopSensorMutationResult | SensorNotFoundError | UnauthorizedError | PythonError,
    strawberry.union("StopSensorMutationResultOrError"),
]
PartitionBackfillsOrError = Annotated[
    PartitionBackfills | PythonError, strawberry.union("PartitionBackfillsOrError")
]
CancelBackfillResult = Annotated[
    CancelBackfillSuccess | BackfillNotFoundError | UnauthorizedError | PythonError,
    strawberry.union("CancelBackfillResult"),
]
