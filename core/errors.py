"""Every exception opgrid raises, in one hierarchy.

Users catch these without importing any infrastructure. Dagster's exception
names are the class names users already know; where opgrid's own name and
Dagster's describe the same concept they are one class, bound to both names,
so catching either works.

    DagsterError (OpgridError)
    ├── DagsterInvalidDefinitionError (DefinitionError)   bad op/graph/job, raised at definition
    ├── DagsterInvalidInvocationError                     an op called the wrong way
    ├── DagsterInvariantViolationError                    an API used against its contract
    ├── DagsterInvalidConfigError (ConfigError)           run config rejected
    ├── DagsterResourceFunctionError (ResourceError)      a resource failed to initialise
    ├── DagsterUnknownResourceError                       an op used an undeclared resource
    ├── PlanError / RunNotFound
    │                 └── AmbiguousRunId                  a short run id matches several runs
    ├── InstigatorNotFound / BackfillNotFound             no such schedule, sensor or backfill
    ├── RunTimeout                                        waiting for a run gave up first
    ├── UnconsumedQueueError                              strict submit: a queue nobody consumes
    ├── InvalidTransition                                 the run state machine refused an event
    ├── StorageError
    │   └── OutputNotFound
    ├── DagsterExecutionStepExecutionError (StepExecutionError)   user code raised in a step
    ├── StepTimeLimitExceeded                             a step ran past its opgrid/timeout_s
    ├── StepLost                                          a step's worker was lost, or none took it
    ├── DagsterTypeCheckDidNotPass                        a value failed its type check
    ├── DagsterStepOutputNotFoundError                    a required output was not produced
    ├── DagsterMaxRetriesExceededError                    a step failed on its last retry
    ├── Failure                                           raised by an op to fail with a description
    ├── RetryRequested                                    raised by an op to ask for a retry
    ├── ScheduleExecutionError / SensorExecutionError     a schedule's or sensor's function raised
    └── DagsterUnknownPartitionError                      a partition key the job does not have

    NoCoordinatorWarning (UserWarning)                    a run was queued with no coordinator
    UnconsumedQueueWarning (UserWarning)                  ... with a queue no worker consumes
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple


class ConfigErrorItem(NamedTuple):
    """One bad field of a rejected config; unpacks as ``(path, message)``."""

    path: str
    message: str

    @property
    def reason(self) -> str:
        """Dagster's name for the kind of problem."""
        text = self.message
        if "unexpected config entry" in text or "unexpected" in text.split(" ", 3)[:3]:
            return "FIELD_NOT_DEFINED"
        if "missing" in text:
            return "MISSING_REQUIRED_FIELD"
        if "exactly one of" in text:
            return "SELECTOR_FIELD_ERROR"
        return "RUNTIME_TYPE_MISMATCH"


class DagsterError(Exception):
    """Base class of every error opgrid raises."""


class DagsterInvalidDefinitionError(DagsterError):
    """An op, graph, job or resource was defined wrongly; raised at definition time."""


class DagsterInvalidConfigDefinitionError(DagsterInvalidDefinitionError):
    """A config schema itself is invalid (raised where the schema is defined)."""


class DagsterUnknownPartitionError(DagsterError):
    """A partition key that the job's partitions do not have."""


class DagsterInvalidSubsetError(DagsterError):
    """An ``op_selection`` names nodes that do not exist or makes an invalid graph."""


class DagsterInvalidInvocationError(DagsterError):
    """An op or graph was invoked in a way its definition does not allow."""


class DagsterInvariantViolationError(DagsterError):
    """An API was used against its contract (e.g. asking for an output that does not exist)."""


class DagsterInvalidConfigError(DagsterError):
    """The run config does not match the job's schema.

    Attributes:
        errors: one ``(path, message)`` pair per bad field, the path dotted
            (``ops.my_op.config.param``).
    """

    def __init__(self, errors: Sequence[tuple[str, str]], *, subject: str = "the run") -> None:
        self.errors: list[ConfigErrorItem] = [ConfigErrorItem(*item) for item in errors]
        lines = "\n".join(f"  {path or '<root>'}: {message}" for path, message in self.errors)
        count = len(self.errors)
        super().__init__(
            f"Error in config for {subject}: {count} error{'s' if count != 1 else ''}\n{lines}"
        )


class DagsterResourceFunctionError(DagsterError):
    """A resource's init function raised."""


class DagsterUnknownResourceError(DagsterError, AttributeError):
    """An op or hook used a resource key it did not require."""


class PlanError(DagsterError):
    """A job cannot be turned into an execution plan."""


class RunNotFound(DagsterError):
    """No run with the given id exists."""


class InstigatorNotFound(DagsterError):
    """No schedule or sensor of the given name is known to the cluster."""


class BackfillNotFound(DagsterError):
    """No backfill with the given id is recorded."""


class AmbiguousRunId(RunNotFound):
    """A short run id matches more than one run; the message lists the matches."""


class RunTimeout(DagsterError):
    """``RunHandle.wait`` gave up before the run finished."""


class UnconsumedQueueError(DagsterError):
    """``submit(unconsumed="refuse")``: a step's queue has no live consumer; nothing queued."""


class InvalidTransition(DagsterError):
    """The run state machine refused an event that is impossible in the step's current state."""


class StorageError(DagsterError):
    """Run or output storage failed."""


class BrokerError(DagsterError):
    """The broker did not take a step message."""


class OutputNotFound(StorageError):
    """A step output that should have been stored is not there."""


class DagsterExecutionStepExecutionError(DagsterError):
    """User code raised inside a step; the user's exception is chained as ``__cause__``."""

    def __init__(
        self, message: str, *, run_id: str = "", step_key: str = "", attempt: int = 0
    ) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.step_key = step_key
        self.attempt = attempt

    @property
    def user_exception(self) -> BaseException | None:
        """The exception the op raised."""
        return self.__cause__


class DagsterTypeCheckDidNotPass(DagsterError):
    """A value handed to or produced by an op did not pass its type check.

    Args:
        description: what failed, the message of the exception.
        metadata: facts the type check reported.
        dagster_type: the type the value failed.
    """

    def __init__(
        self,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        dagster_type: Any = None,
    ) -> None:
        super().__init__(description)
        self.description = description
        self.metadata = dict(metadata or {})
        self.dagster_type = dagster_type

    def __reduce__(self) -> tuple[Any, ...]:
        # A type's check function is often a lambda or closure, which cannot cross a
        # process boundary: the copy a worker sends back keeps the text and metadata only.
        return (type(self), (self.description, self.metadata))


class DagsterStepOutputNotFoundError(DagsterError):
    """An op finished without producing one of its required outputs."""

    def __init__(self, message: str, *, step_key: str = "", output_name: str = "") -> None:
        super().__init__(message)
        self.step_key = step_key
        self.output_name = output_name


class StepTimeLimitExceeded(DagsterError):
    """A step ran past its time limit (the ``opgrid/timeout_s`` tag) and was stopped."""


class StepLost(DagsterError):
    """A step's worker stopped answering (and redelivery did not help), or no worker
    picked the step up in time."""


class DagsterExecutionInterruptedError(BaseException):
    """Raised inside a running op when its run is canceled.

    A ``BaseException``, like ``KeyboardInterrupt``, so an op's ``except Exception``
    does not swallow it; the op's ``finally`` blocks still run.
    """


class DagsterMaxRetriesExceededError(DagsterError):
    """A step failed on its last allowed retry; the op's exception is chained."""


class Failure(DagsterError):
    """Raised by an op to fail its step with a description and metadata.

    Args:
        description: what went wrong, shown in the step failure event.
        metadata: extra facts about the failure.
        allow_retries: when False, the op's retry policy is not applied.
    """

    def __init__(
        self,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        allow_retries: bool = True,
    ) -> None:
        super().__init__(description)
        self.description = description
        self.metadata = dict(metadata or {})
        self.allow_retries = allow_retries


class RetryRequested(DagsterError):
    """Raised by an op to ask for its step to be run again.

    Args:
        max_retries: how many retries this op may have in total.
        seconds_to_wait: delay before the retry.
    """

    def __init__(self, max_retries: int = 1, seconds_to_wait: float | None = None) -> None:
        super().__init__(f"retry requested (max_retries={max_retries})")
        self.max_retries = max_retries
        self.seconds_to_wait = seconds_to_wait


# opgrid's names for the same concepts: one class each, two names. The classes carry
# Dagster's names, so ``type(exc).__name__`` and reported error classes match Dagster's.
class ScheduleExecutionError(DagsterError):
    """A schedule's function (or its run config, tags or should_execute function) raised;
    the user's exception is chained as ``__cause__``."""


class SensorExecutionError(DagsterError):
    """A sensor's function raised; the user's exception is chained as ``__cause__``."""


class NoCoordinatorWarning(UserWarning):
    """A run was submitted while no coordinator is alive to run it."""


class UnconsumedQueueWarning(UserWarning):
    """A run was submitted with steps for a queue that no live worker consumes."""


OpgridError = DagsterError
DefinitionError = DagsterInvalidDefinitionError
ConfigError = DagsterInvalidConfigError
ResourceError = DagsterResourceFunctionError
StepExecutionError = DagsterExecutionStepExecutionError


class StepProcessDied(DagsterError):
    """The process running a step attempt died (its op called ``os._exit``, crashed with
    a signal, or was killed by the OOM killer) more often than ``OPGRID_MAX_REDELIVERIES``
    allows; the message names the exit code or signal when the worker saw it."""


class SecretMismatchWarning(UserWarning):
    """Live workers hold another ``OPGRID_SECRET`` than the submitter: they refuse its
    steps, which then wait forever (or until ``OPGRID_QUEUE_TIMEOUT_S``)."""
