"""Run tags and op tags."""

from opgrid import graph, job, op


@op(tags={"kind": "compute"})
def read_tags(context):
    return dict(context.run.tags)


def test_job_tags_visible_in_context(execute):
    @job(tags={"team": "data"})
    def j():
        read_tags()

    result = execute(j)
    assert result.output_for_node("read_tags")["team"] == "data"
    assert result.dagster_run.tags["team"] == "data"


def test_execute_tags_merged_over_job_tags(execute):
    @job(tags={"a": "1", "b": "2"})
    def j():
        read_tags()

    result = execute(j, tags={"b": "3", "c": "4"})
    expected = {"a": "1", "b": "3", "c": "4"}
    assert result.output_for_node("read_tags") == expected
    assert dict(result.dagster_run.tags) == expected


def test_to_job_tags(execute):
    @graph
    def g():
        read_tags()

    result = execute(g.to_job(tags={"env": "test"}), tags={"extra": "x"})
    assert result.output_for_node("read_tags") == {"env": "test", "extra": "x"}


def test_op_definition_tags():
    assert read_tags.tags == {"kind": "compute"}


def test_tag_on_invocation_composes_and_runs(execute):
    @job
    def j():
        read_tags.tag({"kind": "override", "extra": "e"}).alias("tagged")()
        read_tags()

    result = execute(j)
    assert result.is_node_success("tagged")
    assert result.is_node_success("read_tags")
    # op tags are not run tags
    assert "kind" not in result.output_for_node("tagged")
