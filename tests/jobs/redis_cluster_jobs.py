"""The jobs of ``tests/integration/test_redis_cluster.py``: seed-page examples, a dynamic
map, a retry and a 1,000-step fan-out, for workers whose storage is a Redis Cluster.

The workers load this file by path (``opgrid worker -f``); the test imports it to
submit the same jobs.
"""

from __future__ import annotations

from opgrid import (
    Config,
    DynamicOut,
    DynamicOutput,
    OpExecutionContext,
    RetryPolicy,
    config_mapping,
    job,
    op,
)

try:
    from tests.jobs.job_shapes import weighted_expected, weighted_job
except ModuleNotFoundError:  # loaded by file (``-f``), the repository root not on sys.path
    from job_shapes import weighted_expected, weighted_job

# The seed page: a job from scratch, multiple inputs, a config mapping, a fixed fan-in ----------


@op
def return_five() -> int:
    return 5


@op
def add_one(arg: int) -> int:
    return arg + 1


@job
def do_stuff():
    add_one(return_five())


@op
def return_one() -> int:
    return 1


@op
def adder(a: int, b: int) -> int:
    return a + b


@job
def inputs_and_outputs():
    value = return_one()
    a = add_one(value)
    b = add_one(value)
    adder(a, b)


@op(config_schema={"config_param": str})
def do_something(context: OpExecutionContext) -> str:
    context.log.info("config_param: " + context.op_config["config_param"])
    return str(context.op_config["config_param"])


@config_mapping(config_schema={"simplified_param": str})
def simplified_config(val):
    return {"ops": {"do_something": {"config": {"config_param": val["simplified_param"]}}}}


@job(config=simplified_config)
def do_it_all_with_simplified_config():
    do_something()


@op
def sum_fan_in(nums: list[int]) -> int:
    return sum(nums)


@job
def fan_in():
    sum_fan_in([return_one.alias(f"return_one_{i}")() for i in range(10)])


# A dynamic map and a retry -----------------------------------------------------------------


@op(out=DynamicOut(int))
def spread():
    for i in range(6):
        yield DynamicOutput(i, mapping_key=f"k{i}")


@op
def square(value: int) -> int:
    return value * value


@op
def total(values: list[int]) -> int:
    return sum(values)


@job
def mapped():
    total(spread().map(square).collect())


@op(retry_policy=RetryPolicy(max_retries=2))
def flaky(context: OpExecutionContext) -> int:
    """Fails its first attempt, succeeds on the retry."""
    if context.retry_number == 0:
        raise RuntimeError("the first attempt fails")
    return 10 + context.retry_number


@job
def retried():
    add_one(flaky())


# A wide fan-out: start -> 998 parts -> combine ----------------------------------------------

#: Steps of ``wide``.
WIDE = 1000


class StartConfig(Config):
    value: int = 0


@op
def start(config: StartConfig) -> int:
    return config.value


wide = weighted_job(start, WIDE - 2, "wide")


def wide_expected(value: int) -> int:
    """``combine``'s output for a run of ``wide`` started with ``value``."""
    return weighted_expected(WIDE - 2, value)
