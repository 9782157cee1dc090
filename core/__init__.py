"""opgrid: Dagster-style jobs and graphs, run in process or on a Celery cluster with Redis.

Port a Dagster job by changing ``from dagster import ...`` to
``from opgrid import ...``. Importing this package loads neither Redis nor
Celery.
"""

from typing import Any

from .cluster import get_run, list_runs, local_coordinator, submit
from .code_location import CodeLocation, load_code_location
from .collection_types import Dict, List, Optional, Set, Tuple
from .composition import PendingNodeInvocation
from .config import (
    Array,
    BoolSource,
    Config,
    Field,
    IntSource,
    Noneable,
    Permissive,
    Selector,
    Shape,
    StringSource,
)
from .config_mapping import ConfigMapping, config_mapping
from .config_types import Enum, EnumValue, Map
from .configured import configured
from .context import DagsterRun, OpExecutionContext
from .dagster_type import (
    DagsterType,
    PythonObjectDagsterType,
    TypeCheck,
    TypeCheckContext,
    check_dagster_type,
    make_python_type_usable_as_dagster_type,
    usable_as_dagster_type,
)
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
    DagsterInvalidConfigDefinitionError,
    DagsterInvalidConfigError,
    DagsterInvalidDefinitionError,
    DagsterInvalidInvocationError,
    DagsterInvalidSubsetError,
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
    SecretMismatchWarning,
    SensorExecutionError,
    StepExecutionError,
    StepLost,
    StepProcessDied,
    StepTimeLimitExceeded,
    StorageError,
    UnconsumedQueueError,
    UnconsumedQueueWarning,
)
from .event_type import DagsterEventType
from .graph import GraphDefinition, graph
from .hook import (
    HookContext,
    HookDefinition,
    HookExecutionResult,
    build_hook_context,
    failure_hook,
    success_hook,
)
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
    DynamicPartitionsDefinition,
    PartitionedConfig,
    PartitionKeyRange,
    StaticPartitionsDefinition,
    TimeWindow,
    daily_partitioned_config,
    dynamic_partitioned_config,
    static_partitioned_config,
)
from .partitioned_schedule import build_schedule_from_partitioned_job
from .repository import Definitions, RepositoryDefinition, repository
from .resource import InitResourceContext, ResourceDefinition, resource
from .resource_invocation import build_init_resource_context, make_values_resource
from .retry import Backoff, Jitter, RetryPolicy
from .run_config import RunConfig
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
from .type_loader import DagsterTypeLoader, DagsterTypeLoaderContext, dagster_type_loader
from .types import Nothing

#: Dagster 1.13's built-in scalar types are the Python classes themselves.
Int = int
String = str
Bool = bool
Float = float

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
    # Dagster types
    "Any",
    "Bool",
    "DagsterType",
    "DagsterTypeLoader",
    "DagsterTypeLoaderContext",
    "Dict",
    "Float",
    "Int",
    "List",
    "Optional",
    "PythonObjectDagsterType",
    "Set",
    "String",
    "Tuple",
    "TypeCheck",
    "TypeCheckContext",
    "check_dagster_type",
    "dagster_type_loader",
    "make_python_type_usable_as_dagster_type",
    "usable_as_dagster_type",
    # Config
    "Array",
    "BoolSource",
    "Config",
    "ConfigMapping",
    "Enum",
    "EnumValue",
    "Map",
    "DailyPartitionsDefinition",
    "DynamicPartitionsDefinition",
    "Field",
    "IntSource",
    "Noneable",
    "PartitionKeyRange",
    "PartitionedConfig",
    "Permissive",
    "RunConfig",
    "Selector",
    "Shape",
    "StaticPartitionsDefinition",
    "TimeWindow",
    "StringSource",
    "config_mapping",
    "configured",
    "daily_partitioned_config",
    "dynamic_partitioned_config",
    "static_partitioned_config",
    # Resources, hooks, retries, context
    "Backoff",
    "DagsterRun",
    "HookContext",
    "HookDefinition",
    "HookExecutionResult",
    "InitResourceContext",
    "Jitter",
    "OpExecutionContext",
    "ResourceDefinition",
    "RetryPolicy",
    "build_hook_context",
    "build_init_resource_context",
    "build_op_context",
    "make_values_resource",
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
    "DagsterInvalidConfigDefinitionError",
    "DagsterInvalidConfigError",
    "DagsterInvalidDefinitionError",
    "DagsterInvalidInvocationError",
    "DagsterInvalidSubsetError",
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
    "SecretMismatchWarning",
    "StepExecutionError",
    "StepLost",
    "StepProcessDied",
    "StepTimeLimitExceeded",
    "StorageError",
    "UnconsumedQueueError",
    "UnconsumedQueueWarning",
]
