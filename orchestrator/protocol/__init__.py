"""The words every process shares: pure (core and pydantic only), imported by everyone.

``messages`` (step requests, run records and summaries, step inputs, the task name),
``events`` (the event log's entries and the final run events), ``status`` (step and
run statuses, and which process writes which), ``step_keys`` (mapped copies' keys,
output labels), ``tags`` (every system tag), ``attempts`` (the claim rule),
``captured`` (what a step attempt printed), ``signing`` (HMAC of requests and output
envelopes).
"""

from .attempts import Begun, Verdict, decide
from .events import FINAL_RUN_EVENTS, FINAL_RUN_KINDS, ErrorInfo, RunEvent, run_event
from .messages import EXECUTE_STEP, RunRecord, RunSummary, StepInputs, StepRequest, task_id
from .status import FINAL_RUN_STATUSES, FINAL_STEP_STATUSES, IN_FLIGHT, RunStatus, StepStatus
from .step_keys import mapped_key, output_label, template_of
from .tags import PARENT_RUN_TAG, PRIORITY_TAG, QUEUE_TAG, ROOT_RUN_TAG, TIMEOUT_TAG

__all__ = [
    "EXECUTE_STEP",
    "FINAL_RUN_EVENTS",
    "FINAL_RUN_KINDS",
    "FINAL_RUN_STATUSES",
    "FINAL_STEP_STATUSES",
    "IN_FLIGHT",
    "PARENT_RUN_TAG",
    "PRIORITY_TAG",
    "QUEUE_TAG",
    "ROOT_RUN_TAG",
    "TIMEOUT_TAG",
    "Begun",
    "ErrorInfo",
    "RunEvent",
    "RunRecord",
    "RunStatus",
    "RunSummary",
    "StepInputs",
    "StepRequest",
    "StepStatus",
    "Verdict",
    "decide",
    "mapped_key",
    "output_label",
    "run_event",
    "task_id",
    "template_of",
]
