"""Jobs for the fuzz tests: nested config schemas of every kind, and a run whose events
cover branches, skips, a retry and dynamic mapping."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from opgrid import (
    Config,
    DynamicOut,
    DynamicOutput,
    Field,
    Noneable,
    OpExecutionContext,
    Out,
    Output,
    Permissive,
    RetryPolicy,
    Selector,
    graph,
    job,
    op,
    resource,
)


class Inner(Config):
    threshold: float = 0.5
    labels: list[str] = []


class Outer(Config):
    name: str
    inner: Inner = Inner()
    limits: dict[str, int] = {}


@op
def pythonic(config: Outer) -> str:
    return config.name


@op(
    config_schema={
        "path": str,
        "retries": Field(int, default_value=3),
        "nested": {"numbers": [int], "label": Noneable(str), "extra": Permissive({"k": int})},
        "mode": Selector({"fast": {"n": int}, "slow": {}}),
    },
    required_resource_keys={"conn"},
)
def classic(context: OpExecutionContext) -> None:
    del context


@resource(config_schema={"url": str, "timeout_s": Field(float, default_value=1.0)})
def conn(init_context: Any) -> str:
    return str(init_context.resource_config["url"])


@graph
def inner_graph() -> None:
    classic()


@job(resource_defs={"conn": conn})
def config_job() -> None:
    """Config at three depths: an op, an op inside a graph, and a resource."""
    pythonic()
    inner_graph()


#: A run config ``config_job`` accepts, touching every field.
VALID_CONFIG: dict[str, Any] = {
    "ops": {
        "pythonic": {
            "config": {"name": "x", "inner": {"threshold": 1.0, "labels": ["a"]}, "limits": {}}
        },
        "inner_graph": {
            "ops": {
                "classic": {
                    "config": {
                        "path": "/p",
                        "retries": 1,
                        "nested": {"numbers": [1, 2], "label": None, "extra": {"k": 1}},
                        "mode": {"fast": {"n": 1}},
                    }
                }
            }
        },
    },
    "resources": {"conn": {"config": {"url": "redis://x", "timeout_s": 2.0}}},
}


@op(out={"small": Out(is_required=False), "large": Out(is_required=False)})
def branch() -> Iterator[Output]:
    yield Output(1, "small")


@op
def on_small(value: int) -> int:
    return value + 1


@op
def on_large(value: int) -> int:
    return value


@op(out=DynamicOut())
def fan() -> Iterator[DynamicOutput]:
    for index in range(3):
        yield DynamicOutput(index, mapping_key=f"k{index}")


@op
def square(value: int) -> int:
    return value * value


@op
def total(values: list[int]) -> int:
    return sum(values)


@op(retry_policy=RetryPolicy(max_retries=1))
def flaky(context: OpExecutionContext) -> int:
    if context.retry_number == 0:
        raise RuntimeError("the first attempt fails on purpose")
    return 1


@op
def explode(value: int) -> int:
    raise ValueError(f"cannot take {value}")


@op
def after_explode(value: int) -> int:
    return value


@job
def event_job() -> None:
    """Branches (one skipped), a mapped fan-out, a retry, and a failure that abandons."""
    small, large = branch()
    on_small(small)
    on_large(large)
    total(fan().map(square).collect())
    after_explode(explode(flaky()))
