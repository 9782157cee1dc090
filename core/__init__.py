"""opgrid: Dagster-style jobs and graphs, run in process or on a Celery cluster with Redis.

Port a Dagster job by changing ``from dagster import ...`` to
``from opgrid import ...``. Importing this package loads neither Redis nor
Celery.
"""

from .cluster import get_run, list_runs, local_coordinator, submit
from .code_location import CodeLocation, load_code_location
from .composition import PendingNodeInvocation
from .config import (
    Array,
    BoolSource,
    Config,
    Field,
    IntSource,
    Noneable,
    Permissive,
    RunConfig,
    Selector,
    Shape,
    StringSource,
)
from .config_mapping import ConfigMapping, config_mapping
from .context import DagsterRun, OpExecutionContext
from .dependency import (
    DependencyDefinition,
    DynamicCollectDependencyDefinition,
    InputMapping,
    MultiDependencyDefinition,
    NodeInvocation,
    OutputMapping,
)
from .errors import (
    AmbiguousRunId,
    ConfigError,
    DagsterError,
    DagsterExecutionInterruptedError,
    DagsterExecutionStepExecutionError,
    DagsterInvalidConfigError,
    DagsterInvalidDefinitionError,
    DagsterInvalidInvocationError,
    DagsterInvariantViolationError,
    DagsterMaxRetriesExceededError,
    DagsterResourceFunctionError,
    DagsterStepOutputNotFoundError,
    DagsterTypeCheckDidNotPass,
    DagsterUnknownPartitionError,
    DagsterUnknownResourceError,
    DefinitionError,
    Failure,
    InvalidTransition,
    NoCoordinatorWarning,
    OpgridError,
    OutputNotFound,
    PlanError,
    ResourceError,
    RetryRequested,
    RunNotFound,
    RunTimeout,
    ScheduleExecutionError,
    SensorExecutionError,
    StepExecutionError,
    StepLost,
    StepTimeLimitExceeded,
    StorageError,
    UnconsumedQueueError,
    UnconsumedQueueWarning,
)
from .event_type import DagsterEventType
from .graph import GraphDefinition, graph
from .hook import HookContext, HookDefinition, failure_hook, success_hook
from .input import GraphIn, In
from .instigator import DefaultScheduleStatus, DefaultSensorStatus
from .invocation import build_op_context
from .job import (
    ExecutorDefinition,
    JobDefinition,
    in_process_executor,
    job,
    multiprocess_executor,
)
from .op import OpDefinition, op
from .output import DynamicOut, DynamicOutput, GraphOut, Out, Output
from .partition import (
    DailyPartitionsDefinition,
    PartitionedConfig,
    StaticPartitionsDefinition,
    daily_partitioned_config,
    static_partitioned_config,
)
from .partitioned_schedule import build_schedule_from_partitioned_job
from .repository import Definitions, RepositoryDefinition, repository
from .resource import InitResourceContext, ResourceDefinition, resource
from .retry import Backoff, Jitter, RetryPolicy
from .run_request import RunRequest, SensorResult, SkipReason
from .run_status_sensor import (
    DagsterRunStatus,
    RunFailureSensorContext,
    RunStatusSensorContext,
    RunStatusSensorDefinition,
    build_run_status_sensor_context,
    run_failure_sensor,
    run_status_sensor,
)
from .schedule import (
    ScheduleDefinition,
    ScheduleEvaluationContext,
    build_schedule_context,
    schedule,
)
from .sensor import SensorDefinition, SensorEvaluationContext, build_sensor_context, sensor
from .types import Nothing

__version__ = "0.1.0"

__all__ = [
    # Definitions: ops, graphs, jobs
    "DependencyDefinition",
    "DynamicCollectDependencyDefinition",
    "ExecutorDefinition",
    "GraphDefinition",
    "InputMapping",
    "JobDefinition",
    "MultiDependencyDefinition",
    "NodeInvocation",
    "OpDefinition",
    "OutputMapping",
    "PendingNodeInvocation",
    "graph",
    "in_process_executor",
    "job",
    "multiprocess_executor",
    "get_run",
    "list_runs",
    "local_coordinator",
    "op",
    "submit",
    # Inputs, outputs, types
    "DynamicOut",
    "DynamicOutput",
    "GraphIn",
    "GraphOut",
    "In",
    "Nothing",
    "Out",
    "Output",
    # Config
    "Array",
    "BoolSource",
    "Config",
    "ConfigMapping",
    "DailyPartitionsDefinition",
    "Field",
    "IntSource",
    "Noneable",
    "PartitionedConfig",
    "Permissive",
    "RunConfig",
    "Selector",
    "Shape",
    "StaticPartitionsDefinition",
    "StringSource",
    "config_mapping",
    "daily_partitioned_config",
    "static_partitioned_config",
    # Resources, hooks, retries, context
    "Backoff",
    "DagsterRun",
    "HookContext",
    "HookDefinition",
    "InitResourceContext",
    "Jitter",
    "OpExecutionContext",
    "ResourceDefinition",
    "RetryPolicy",
    "build_op_context",
    "failure_hook",
    "resource",
    "success_hook",
    # Schedules and sensors
    "DagsterRunStatus",
    "DefaultScheduleStatus",
    "DefaultSensorStatus",
    "RunFailureSensorContext",
    "RunRequest",
    "RunStatusSensorContext",
    "RunStatusSensorDefinition",
    "ScheduleDefinition",
    "ScheduleEvaluationContext",
    "SensorDefinition",
    "SensorEvaluationContext",
    "SensorResult",
    "SkipReason",
    "build_run_status_sensor_context",
    "build_schedule_context",
    "build_schedule_from_partitioned_job",
    "build_sensor_context",
    "run_failure_sensor",
    "run_status_sensor",
    "schedule",
    "sensor",
    # Code locations
    "CodeLocation",
    "Definitions",
    "RepositoryDefinition",
    "load_code_location",
    "repository",
    # Events
    "DagsterEventType",
    # Errors
    "AmbiguousRunId",
    "ConfigError",
    "DagsterError",
    "DagsterExecutionInterruptedError",
    "DagsterExecutionStepExecutionError",
    "DagsterInvalidConfigError",
    "DagsterInvalidDefinitionError",
    "DagsterInvalidInvocationError",
    "DagsterInvariantViolationError",
    "DagsterMaxRetriesExceededError",
    "DagsterResourceFunctionError",
    "DagsterStepOutputNotFoundError",
    "DagsterTypeCheckDidNotPass",
    "DagsterUnknownPartitionError",
    "DagsterUnknownResourceError",
    "DefinitionError",
    "Failure",
    "InvalidTransition",
    "NoCoordinatorWarning",
    "OpgridError",
    "OutputNotFound",
    "PlanError",
    "ResourceError",
    "RetryRequested",
    "RunNotFound",
    "RunTimeout",
    "ScheduleExecutionError",
    "SensorExecutionError",
    "StepExecutionError",
    "StepLost",
    "StepTimeLimitExceeded",
    "StorageError",
    "UnconsumedQueueError",
    "UnconsumedQueueWarning",
]
