"""Pure planning: a job and its run config become a plan, and events move its state.

No Redis, Celery, clock or logging here. ``plan`` (the ``ExecutionPlan`` model),
``compiler`` (``compile_plan``) with ``feeds`` (where each input's value comes from),
``run_config`` (effective config, defaults, partitions), ``state`` (``RunState``, the one
state machine both executors drive), ``commands`` (what it tells an executor to do),
``step_graph`` (a run's concrete steps and whether an input is ready), ``replay``
(rebuilding a state from its event log), ``summary`` (a finished run's outcome, read
back without replay), ``around_step`` (what every executor does around one step: inputs
in, outcome events out).
"""

from .around_step import assemble_inputs, outcome_events, plan_refs, raised_for
from .commands import AbandonStep, Command, DispatchStep, FinishRun, SkipStep
from .compiler import compile_plan
from .plan import ExecutionPlan, PlanStep
from .state import RunState
from .step_graph import ValueRef
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
