"""Output metadata crosses the process boundary inside the step's RunEvent."""

from opgrid import Output, op
from opgrid.context import DagsterRun
from opgrid.orchestrator.planning.around_step import outcome_events
from opgrid.orchestrator.protocol.events import RunEvent
from opgrid.resource import Resources
from opgrid.step_runner import StepSpec, run_step


class _Opaque:
    def __str__(self):
        return "opaque"


@op
def measured(context):
    context.add_output_metadata({"rows": 3, "nested": {"a": [1, 2]}, "obj": _Opaque()})
    return Output(1, metadata={"source": "db"})


def test_metadata_is_json_in_the_events_a_worker_writes():
    outcome = run_step(
        StepSpec("measured", "measured", measured), DagsterRun("r1", "j"), {}, Resources({})
    )
    events = outcome_events("r1", "measured", 0, outcome, 0.0)
    output_event = next(e for e in events if e.event_type_value == "STEP_OUTPUT")
    copy = RunEvent.model_validate_json(output_event.model_dump_json())
    assert copy.metadata == {
        "source": "db",
        "rows": 3,
        "nested": {"a": [1, 2]},
        "obj": "opaque",
    }
    assert copy.event_specific_data.metadata == copy.metadata
