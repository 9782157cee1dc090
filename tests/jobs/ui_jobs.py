"""Jobs the web UI tests load (the UI server and the workers load this same file).

Its schedules and sensors are stopped by default (a test starts what it watches), but
``nightly``, which runs by default and ticks once a year. ``counting`` requests one run
(run key ``first``) on its first tick and skips after; ``failing`` raises. ``slow_regions``
is a partitioned job whose runs take long enough to cancel its backfill mid-way.
"""

from __future__ import annotations

import os
import sys
import time

from opgrid import (
    Config,
    DefaultScheduleStatus,
    Failure,
    In,
    Nothing,
    OpExecutionContext,
    RunRequest,
    ScheduleDefinition,
    SkipReason,
    graph,
    job,
    op,
    schedule,
    sensor,
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


# Schedules, sensors and backfills -----------------------------------------------------------
@op
def tick_op() -> str:
    return "ticked"


@job(description="What the UI's schedules and sensors launch.")
def ticked():
    tick_op()


@schedule(
    cron_schedule="0 3 1 1 *",
    job=ticked,
    execution_timezone="Europe/Paris",
    default_status=DefaultScheduleStatus.RUNNING,
)
def nightly(context):
    return RunRequest()


hourly = ScheduleDefinition(name="hourly", cron_schedule="15 * * * *", job=ticked)


@sensor(job=ticked, minimum_interval_seconds=1)
def counting(context):
    count = int(context.cursor or 0) + 1
    context.update_cursor(str(count))
    if count == 1:
        return RunRequest(run_key="first")
    return SkipReason(f"nothing new after {count} ticks")


@sensor(job=ticked, minimum_interval_seconds=1)
def failing(context):
    raise ValueError("the feed is down")


@static_partitioned_config(partition_keys=["north", "south", "east", "west"])
def slow_config(partition_key: str):
    return {"ops": {"nap": {"config": {"seconds": 30.0}}}}


@job(config=slow_config, description="Naps 30 s per partition.")
def slow_regions():
    nap()
