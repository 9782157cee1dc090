"""Every exception opgrid raises, in one hierarchy.

Users catch these without importing any infrastructure. Dagster's exception
names are kept as the class names users already know; where opgrid's own
name and Dagster's describe the same concept they are one class, bound to
both names, so catching either works.

    OpgridError (DagsterError)
    ├── DefinitionError (DagsterInvalidDefinitionError)   bad op/graph/job, raised at definition
    ├── DagsterInvalidInvocationError                     an op called the wrong way
    ├── DagsterInvariantViolationError                    an API used against its contract
    ├── ConfigError (DagsterInvalidConfigError)           run config rejected
    ├── ResourceError (DagsterResourceFunctionError)      a resource failed to initialise
    ├── DagsterUnknownResourceError                       an op used an undeclared resource
    ├── PlanError / RunNotFound
    ├── RunTimeout                                        waiting for a run gave up first
    ├── InvalidTransition                                 the run state machine refused an event
    ├── StorageError
    │   └── OutputNotFound
    ├── StepExecutionError (DagsterExecutionStepExecutionError)   user code raised in a step
    ├── StepTimeLimitExceeded                             a step ran past its opgrid/timeout_s
    ├── StepLost                                          a step's worker was lost, or none took it
    ├── DagsterTypeCheckDidNotPass                        a value failed its type check
    ├── DagsterStepOutputNotFoundError                    a required output was not produced
    ├── DagsterMaxRetriesExceededError                    a step failed on its last retry
    ├── Failure                                           raised by an op to fail with a description
    └── RetryRequested                                    raised by an op to ask for a retry

    NoCoordinatorWarning (UserWarning)                    a run was queued with no coordinator
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class OpgridError(Exception):
    """Base class of every error opgrid raises."""


class DefinitionError(OpgridError):
    """An op, graph, job or resource was defined wrongly; raised at definition time."""


class DagsterInvalidInvocationError(OpgridError):
    """An op or graph was invoked in a way its definition does not allow."""


class DagsterInvariantViolationError(OpgridError):
    """An API was used against its contract (e.g. asking for an output that does not exist)."""


class ConfigError(OpgridError):
    """The run config does not match the job's schema.

    Attributes:
        errors: one ``(path, message)`` pair per bad field, the path dotted
            (``ops.my_op.config.param``).
    """

    def __init__(self, errors: Sequence[tuple[str, str]], *, subject: str = "run config") -> None:
        self.errors: list[tuple[str, str]] = list(errors)
        lines = "\n".join(f"  {path or '<root>'}: {message}" for path, message in self.errors)
        count = len(self.errors)
        super().__init__(f"Invalid {subject}: {count} error{'s' if count != 1 else ''}\n{lines}")


class ResourceError(OpgridError):
    """A resource's init function raised."""


class DagsterUnknownResourceError(OpgridError, AttributeError):
    """An op or hook used a resource key it did not require."""


class PlanError(OpgridError):
    """A job cannot be turned into an execution plan."""


class RunNotFound(OpgridError):
    """No run with the given id exists."""


class RunTimeout(OpgridError):
    """``RunHandle.wait`` gave up before the run finished."""


class InvalidTransition(OpgridError):
    """The run state machine refused an event that is impossible in the step's current state."""


class StorageError(OpgridError):
    """Run or output storage failed."""


class BrokerError(OpgridError):
    """The broker did not take a step message."""


class OutputNotFound(StorageError):
    """A step output that should have been stored is not there."""


class StepExecutionError(OpgridError):
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


class DagsterTypeCheckDidNotPass(OpgridError):
    """A value handed to or produced by an op did not pass its type check."""


class DagsterStepOutputNotFoundError(OpgridError):
    """An op finished without producing one of its required outputs."""

    def __init__(self, message: str, *, step_key: str = "", output_name: str = "") -> None:
        super().__init__(message)
        self.step_key = step_key
        self.output_name = output_name


class StepTimeLimitExceeded(OpgridError):
    """A step ran past its time limit (the ``opgrid/timeout_s`` tag) and was stopped."""


class StepLost(OpgridError):
    """A step's worker stopped answering (and redelivery did not help), or no worker
    picked the step up in time."""


class DagsterExecutionInterruptedError(BaseException):
    """Raised inside a running op when its run is canceled.

    A ``BaseException``, like ``KeyboardInterrupt``, so an op's ``except Exception``
    does not swallow it; the op's ``finally`` blocks still run.
    """


class DagsterMaxRetriesExceededError(OpgridError):
    """A step failed on its last allowed retry; the op's exception is chained."""


class Failure(OpgridError):
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


class RetryRequested(OpgridError):
    """Raised by an op to ask for its step to be run again.

    Args:
        max_retries: how many retries this op may have in total.
        seconds_to_wait: delay before the retry.
    """

    def __init__(self, max_retries: int = 1, seconds_to_wait: float | None = None) -> None:
        super().__init__(f"retry requested (max_retries={max_retries})")
        self.max_retries = max_retries
        self.seconds_to_wait = seconds_to_wait


# Dagster's names for the same concepts: one class each, two names.
DagsterError = OpgridError
DagsterInvalidDefinitionError = DefinitionError
DagsterInvalidConfigError = ConfigError
DagsterResourceFunctionError = ResourceError
DagsterExecutionStepExecutionError = StepExecutionError


class NoCoordinatorWarning(UserWarning):
    """A run was submitted while no coordinator is alive to run it."""


class StepProcessDied(OpgridError):
    """The process running a step attempt died (its op called ``os._exit``, crashed with
    a signal, or was killed by the OOM killer) more often than ``OPGRID_MAX_REDELIVERIES``
    allows; the message names the exit code or signal when the worker saw it."""


class SecretMismatchWarning(UserWarning):
    """Live workers hold another ``OPGRID_SECRET`` than the submitter: they refuse its
    steps, which then wait forever (or until ``OPGRID_QUEUE_TIMEOUT_S``)."""
