"""A code location with sensors and partitioned jobs, for the scheduler's cluster tests.

The ``keyed`` sensor requests one run per line of the file ``KEYS_FILE`` names, the
line as run key (so the run-key rule must drop the lines it launched before); each of
its evaluations takes ``SENSOR_SLOW_S`` seconds, which leaves a test time to kill the
leading coordinator mid-tick. The run failure sensor appends ``failure <run id>`` to
``MARKS`` for every failed run of ``doomed`` it is called for. ``continent_job`` is
the partitioned-config example of Dagster's "Jobs" page (the seed's
``static_partitioned_config`` example).
"""

from __future__ import annotations

import os
import time

from opgrid import (
    Config,
    DefaultSensorStatus,
    OpExecutionContext,
    RunFailureSensorContext,
    RunRequest,
    SkipReason,
    job,
    op,
    run_failure_sensor,
    sensor,
    static_partitioned_config,
)


def mark(line: str) -> None:
    path = os.environ.get("MARKS")
    if path:
        with open(path, "a") as marks:
            marks.write(line + "\n")


@op(config_schema={"key": str})
def record_key(context) -> str:
    mark(f"key {context.op_config['key']}")
    return context.op_config["key"]


@job
def keyed_job():
    record_key()


@sensor(job=keyed_job, minimum_interval_seconds=1, default_status=DefaultSensorStatus.RUNNING)
def keyed(context):
    path = os.environ.get("KEYS_FILE")
    time.sleep(float(os.environ.get("SENSOR_SLOW_S", "0")))
    if not path or not os.path.exists(path):
        return SkipReason("no keys file")
    with open(path) as found:
        keys = [line.strip() for line in found if line.strip()]
    return [
        RunRequest(run_key=key, run_config={"ops": {"record_key": {"config": {"key": key}}}})
        for key in keys
    ]


@op
def explode() -> None:
    raise ValueError("boom")


@job
def doomed():
    explode()


@run_failure_sensor(
    monitored_jobs=[doomed],
    minimum_interval_seconds=1,
    default_status=DefaultSensorStatus.RUNNING,
)
def on_doomed_failure(context: RunFailureSensorContext):
    mark(f"failure {context.dagster_run.run_id}")


# Backfills ---------------------------------------------------------------------------------
NUMBERS = [f"p{i:02d}" for i in range(20)]


@static_partitioned_config(partition_keys=NUMBERS)
def numbered_config(partition_key: str):
    return {"ops": {"work": {"config": {"key": partition_key}}}}


@op(config_schema={"key": str})
def work(context) -> str:
    time.sleep(float(os.environ.get("PARTITION_S", "0.3")))
    mark(f"partition {context.op_config['key']}")
    return context.op_config["key"]


@job(config=numbered_config)
def numbered():
    work()


# Dagster's "Jobs" page, partitioned config ------------------------------------------------
CONTINENTS = [
    "Africa",
    "Antarctica",
    "Asia",
    "Europe",
    "North America",
    "Oceania",
    "South America",
]


@static_partitioned_config(partition_keys=CONTINENTS)
def continent_config(partition_key: str):
    return {"ops": {"continent_op": {"config": {"continent_name": partition_key}}}}


class ContinentOpConfig(Config):
    continent_name: str


@op
def continent_op(context: OpExecutionContext, config: ContinentOpConfig):
    context.log.info(config.continent_name)
    mark(f"continent {config.continent_name}")


@job(config=continent_config)
def continent_job():
    continent_op()
