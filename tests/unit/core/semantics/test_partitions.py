"""Partitioned config and context.partition_key."""

import pytest

from opgrid import daily_partitioned_config, job, op, static_partitioned_config


@op(config_schema={"data": str})
def pk_op(context):
    return (context.partition_key, context.op_config["data"])


@static_partitioned_config(partition_keys=["us", "eu"])
def region_config(partition_key: str):
    return {"ops": {"pk_op": {"config": {"data": "cfg-" + partition_key}}}}


@job(config=region_config)
def region_job():
    pk_op()


@daily_partitioned_config(start_date="2024-01-01")
def day_config(start, end):
    return {
        "ops": {
            "pk_op": {
                "config": {"data": start.strftime("%Y-%m-%d") + "/" + end.strftime("%Y-%m-%d")}
            }
        }
    }


@job(config=day_config)
def daily_job():
    pk_op()


def test_static_partition_config_and_key(execute):
    result = execute(region_job, partition_key="eu")
    assert result.output_for_node("pk_op") == ("eu", "cfg-eu")


def test_static_partition_other_key(execute):
    assert execute(region_job, partition_key="us").output_for_node("pk_op") == ("us", "cfg-us")


def test_partition_key_recorded_in_run_tags(execute):
    result = execute(region_job, partition_key="us")
    assert result.dagster_run.tags["dagster/partition"] == "us"


def test_daily_partition_gets_window(execute):
    result = execute(daily_job, partition_key="2024-02-03")
    assert result.output_for_node("pk_op") == ("2024-02-03", "2024-02-03/2024-02-04")


def test_unknown_partition_key_raises(execute):
    with pytest.raises(Exception) as exc:
        execute(region_job, partition_key="mars")
    assert "mars" in str(exc.value)


def test_partition_functions_callable_directly():
    assert region_config("us") == {"ops": {"pk_op": {"config": {"data": "cfg-us"}}}}
