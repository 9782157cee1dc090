"""``configured`` on ops, graphs and resources, and graph config."""

from .shim import dg, one_op_job, raised


@dg.op(config_schema={"a": int, "b": str})
def base(context):
    return context.op_config


def test_op_configured_with_fixed_config():
    fixed = base.configured({"a": 1, "b": "x"}, name="fixed")
    assert fixed.name == "fixed"
    assert one_op_job(fixed).execute_in_process().output_for_node("fixed") == {"a": 1, "b": "x"}


def test_configured_decorator_maps_a_new_schema():
    @dg.configured(base, config_schema={"n": int})
    def from_n(config):
        return {"a": config["n"], "b": str(config["n"])}

    job = one_op_job(from_n)
    result = job.execute_in_process(run_config={"ops": {"from_n": {"config": {"n": 3}}}})
    assert result.output_for_node("from_n") == {"a": 3, "b": "3"}
    assert raised(lambda: job.execute_in_process()) == "DagsterInvalidConfigError"


def test_configured_result_is_validated_against_the_original_schema():
    @dg.configured(base, config_schema={"n": int})
    def wrong(config):
        return {"a": "not an int", "b": "x"}

    job = one_op_job(wrong)
    run_config = {"ops": {"wrong": {"config": {"n": 3}}}}
    assert raised(lambda: job.execute_in_process(run_config=run_config)) == (
        "DagsterInvalidConfigError"
    )


@dg.resource(config_schema={"v": int})
def valued(init_context):
    return init_context.resource_config["v"]


@dg.op(required_resource_keys={"r"})
def read(context):
    return context.resources.r


def test_resource_configured_fixed_and_decorated():
    fixed = valued.configured({"v": 7})
    graph = dg.GraphDefinition(name="reads", node_defs=[read])
    assert (
        graph.to_job(resource_defs={"r": fixed}).execute_in_process().output_for_node("read") == 7
    )

    @dg.configured(valued, config_schema={"w": int})
    def tenfold(config):
        return {"v": config["w"] * 10}

    result = graph.to_job(resource_defs={"r": tenfold}).execute_in_process(
        run_config={"resources": {"r": {"config": {"w": 2}}}}
    )
    assert result.output_for_node("read") == 20


def _mapping(config):
    return {"base": {"config": {"a": config["x"], "b": "g"}}}


@dg.graph(config=dg.ConfigMapping(config_fn=_mapping, config_schema={"x": int}))
def mapped_graph():
    base()


def test_graph_configured_feeds_its_config_mapping():
    fixed = mapped_graph.configured({"x": 5}, name="fixed_graph")
    assert fixed.name == "fixed_graph"
    assert fixed.to_job().execute_in_process().output_for_node("base") == {"a": 5, "b": "g"}


def test_only_a_graph_with_a_config_mapping_can_be_configured():
    @dg.graph
    def unmapped():
        base()

    assert raised(lambda: unmapped.configured({"base": {}}, name="nope")) == (
        "DagsterInvalidDefinitionError"
    )


def test_graph_config_mapping_applies_at_top_level_and_nested():
    top = mapped_graph.to_job().execute_in_process(run_config={"ops": {"config": {"x": 2}}})
    assert top.output_for_node("base") == {"a": 2, "b": "g"}

    @dg.job
    def outer():
        mapped_graph()

    nested = outer.execute_in_process(run_config={"ops": {"mapped_graph": {"config": {"x": 3}}}})
    assert nested.output_for_node("mapped_graph.base") == {"a": 3, "b": "g"}


def test_graph_config_dict_gives_its_nodes_defaults():
    @dg.graph(config={"base": {"config": {"a": 4, "b": "d"}}})
    def defaults():
        base()

    @dg.job
    def outer():
        defaults()

    assert defaults.to_job().execute_in_process().output_for_node("base") == {"a": 4, "b": "d"}
    assert outer.execute_in_process().output_for_node("defaults.base") == {"a": 4, "b": "d"}
