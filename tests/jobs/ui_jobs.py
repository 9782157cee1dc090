"""Jobs the web UI tests load (the UI server and the workers load this same file)."""

from __future__ import annotations

import os
import sys
import time

from opgrid import (
    Config,
    Failure,
    In,
    Nothing,
    OpExecutionContext,
    graph,
    job,
    op,
    static_partitioned_config,
)


class GreetConfig(Config):
    name: str
    times: int = 1


@op(description="Says hello to the configured name.")
def greet(context: OpExecutionContext, config: GreetConfig) -> str:
    context.log.info(f"greeting {config.name}")
    return f"hello {config.name}" * config.times


@op
def shout(text: str) -> str:
    return text.upper()


@job(description="Greets someone, loudly.", tags={"team": "web"})
def hello():
    shout(greet())


class SleepConfig(Config):
    seconds: float = 30.0


@op
def nap(config: SleepConfig) -> float:
    deadline = time.monotonic() + config.seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
    return config.seconds


@job(description="Sleeps for a while.")
def sleepy():
    nap()


class GateConfig(Config):
    marker: str


@op
def first() -> int:
    return 1


@op
def gate(config: GateConfig, value: int) -> int:
    if not os.path.exists(config.marker):
        raise Failure(
            description=f"the marker {config.marker} is missing",
            metadata={"marker": config.marker, "attempt_note": "create it, then re-execute"},
        )
    return value + 1


@op
def last(value: int) -> int:
    return value * 10


@job(description="Fails until a marker file exists.")
def gated():
    last(gate(first()))


@op
def leaf_a() -> int:
    return 2


@op
def leaf_b(value: int) -> int:
    return value + 3


@graph
def inner(value: int) -> int:
    return leaf_b(value)


@op
def start_value() -> int:
    return 1


@op(ins={"after": In(Nothing)})
def done() -> str:
    return "done"


@job(description="A job with a nested graph.")
def nested():
    done(after=inner(start_value()))
    leaf_a()


@static_partitioned_config(partition_keys=["eu", "us"])
def region_config(partition_key: str):
    return {"ops": {"region_op": {"config": {"region": partition_key}}}}


class RegionConfig(Config):
    region: str


@op
def region_op(config: RegionConfig) -> str:
    return config.region


@job(config=region_config)
def regional():
    region_op()


class VaultConfig(Config):
    api_token: str
    dsn: str
    label: str = "plain"


@op
def use_vault(config: VaultConfig) -> str:
    return config.label


@job(description="Takes secrets in its config.")
def secretive():
    use_vault()


@op
def big_blob() -> bytes:
    return bytes(range(256)) * 200


@op
def small_len(blob: bytes) -> int:
    return len(blob)


@job(description="Makes one large output and one small one.")
def blobs():
    small_len(big_blob())


@op(required_resource_keys={"warehouse"})
def needs_warehouse(context: OpExecutionContext) -> None:
    context.resources.warehouse.load()


@job(description="Needs a resource nobody gave it: it cannot be planned.")
def unresourced():
    needs_warehouse()


@op
def chatter() -> int:
    print("hello from <chatter> on stdout")
    print("a warning on stderr", file=sys.stderr)
    return 1


@job(description="Prints on stdout and stderr.")
def printer():
    chatter()
