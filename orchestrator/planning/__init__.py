"""Pure planning: a job and its run config become a plan, and events move its state.

No Redis, Celery, clock or logging here. ``plan`` (the ``ExecutionPlan`` model),
``compiler`` (``compile_plan``) with ``feeds`` (where each input's value comes from),
``run_config`` (effective config, defaults, partitions), ``state`` (``RunState``, the one
state machine both executors drive), ``summary`` (a finished run's outcome, read back
without replay), ``around_step`` (what every executor does around one step: inputs in,
outcome events out).
"""

from .around_step import assemble_inputs, outcome_events, plan_refs, raised_for
from .compiler import compile_plan
from .plan import ExecutionPlan, PlanStep
from .state import AbandonStep, Command, DispatchStep, FinishRun, RunState, SkipStep, ValueRef
from .summary import Outcomes, SummaryOutcomes, summarize

__all__ = [
    "AbandonStep",
    "Command",
    "DispatchStep",
    "ExecutionPlan",
    "FinishRun",
    "Outcomes",
    "PlanStep",
    "RunState",
    "SkipStep",
    "SummaryOutcomes",
    "ValueRef",
    "assemble_inputs",
    "compile_plan",
    "outcome_events",
    "plan_refs",
    "raised_for",
    "summarize",
]
