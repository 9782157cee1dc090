"""On the cluster: a subset plan runs against the worker's full job, and output metadata
arrives in the run's events."""

import pytest

from opgrid import Output, job, op, submit


@op
def source():
    return 2


@op
def measured(context, x):
    context.add_output_metadata({"rows": x})
    return Output(x * 10, metadata={"unit": "m"})


@op
def never_selected(x):
    raise AssertionError("not selected")


@job
def wide():
    value = source()
    measured(value)
    never_selected(value)


@pytest.mark.integration
def test_a_subset_runs_on_the_cluster_with_its_output_metadata(session_cluster):
    session_cluster.app.opgrid_locations.register(wide)  # the worker knows the whole job
    subset = wide.get_subset(op_selection=["source", "measured"])
    handle = submit(subset, settings=session_cluster.settings)
    try:
        result = handle.wait(timeout=30)
    finally:
        handle.close()
    assert result.success
    assert result.output_for_node("measured") == 20
    outputs = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    by_step = {e.step_key: e.event_specific_data.metadata for e in outputs}
    assert by_step == {"source": {}, "measured": {"unit": "m", "rows": 2}}
