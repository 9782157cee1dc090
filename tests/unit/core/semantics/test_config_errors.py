"""Invalid run config is rejected up-front, before any op runs."""

import pytest

from opgrid import DagsterInvalidConfigError, job, op

ran = []


@op(config_schema={"config_param": str})
def do_something(context):
    ran.append("do_something")


@op(config_schema={"threshold_value": int})
def check_threshold(context):
    ran.append("check_threshold")


@op
def unconfigured():
    ran.append("unconfigured")


@job
def cfg_job():
    unconfigured()
    do_something()
    check_threshold()


GOOD = {
    "ops": {
        "do_something": {"config": {"config_param": "x"}},
        "check_threshold": {"config": {"threshold_value": 1}},
    }
}


def _with(op_name, config):
    rc = {"ops": {k: {"config": dict(v["config"])} for k, v in GOOD["ops"].items()}}
    rc["ops"][op_name]["config"] = config
    return rc


def test_good_config_runs_everything(execute):
    ran.clear()
    assert execute(cfg_job, run_config=GOOD).success
    assert sorted(ran) == ["check_threshold", "do_something", "unconfigured"]


def test_wrong_type_raises_even_with_raise_on_error_false(execute):
    ran.clear()
    with pytest.raises(DagsterInvalidConfigError) as exc:
        execute(
            cfg_job, run_config=_with("do_something", {"config_param": 123}), raise_on_error=False
        )
    assert "do_something" in str(exc.value)
    assert "config_param" in str(exc.value)
    assert ran == []


def test_unknown_key_rejected(execute):
    ran.clear()
    with pytest.raises(DagsterInvalidConfigError) as exc:
        execute(cfg_job, run_config=_with("do_something", {"config_param": "x", "surprise_key": 1}))
    assert "surprise_key" in str(exc.value)
    assert "do_something" in str(exc.value)
    assert ran == []


def test_missing_required_field_rejected(execute):
    ran.clear()
    with pytest.raises(DagsterInvalidConfigError) as exc:
        execute(cfg_job, run_config=_with("check_threshold", {}))
    assert "threshold_value" in str(exc.value)
    assert ran == []


def test_missing_all_config_rejected(execute):
    ran.clear()
    with pytest.raises(DagsterInvalidConfigError) as exc:
        execute(cfg_job, raise_on_error=False)
    assert "ops" in str(exc.value)
    assert ran == []


def test_multiple_bad_fields_all_named_in_one_error(execute):
    ran.clear()
    rc = {
        "ops": {
            "do_something": {"config": {"config_param": 5}},
            "check_threshold": {"config": {"threshold_value": "high"}},
        }
    }
    with pytest.raises(DagsterInvalidConfigError) as exc:
        execute(cfg_job, run_config=rc)
    msg = str(exc.value)
    for name in ["do_something", "config_param", "check_threshold", "threshold_value"]:
        assert name in msg, name
    assert ran == []


def test_unknown_op_in_run_config_rejected(execute):
    ran.clear()
    rc = {"ops": dict(GOOD["ops"], not_an_op_here={"config": {}})}
    with pytest.raises(DagsterInvalidConfigError) as exc:
        execute(cfg_job, run_config=rc)
    assert "not_an_op_here" in str(exc.value)
    assert ran == []


def test_wrong_type_in_list_and_nested(execute):
    @op(config_schema={"names_list": [str], "outer_part": {"deep_value": int}})
    def nested_cfg(context):
        ran.append("nested_cfg")

    @job
    def j():
        nested_cfg()

    ran.clear()
    rc = {
        "ops": {
            "nested_cfg": {"config": {"names_list": ["a", 3], "outer_part": {"deep_value": "x"}}}
        }
    }
    with pytest.raises(DagsterInvalidConfigError) as exc:
        execute(j, run_config=rc)
    assert "names_list" in str(exc.value) and "deep_value" in str(exc.value)
    assert ran == []
