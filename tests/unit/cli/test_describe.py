"""``opgrid job print`` and ``opgrid job scaffold-config``: the graph, the schema, and a
run config that the job accepts as it is once the required fields are filled."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from opgrid import Config, Field, job, op
from opgrid.orchestrator.cli import main
from opgrid.orchestrator.cli.describe import scaffold_config
from opgrid.orchestrator.planning.compiler import compile_plan

ROOT = Path(__file__).resolve().parents[3]


class Thresholds(Config):
    threshold: int
    label: str = "default"


@op
def measure(config: Thresholds) -> int:
    return config.threshold


@op(config_schema={"factor": Field(int, default_value=2), "unit": str})
def scale(context, value: int) -> int:
    return value * context.op_config["factor"]


@job
def pipeline():
    scale(measure())


def test_print_shows_the_nested_graph_what_each_node_reads_and_the_schema(monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, ["job", "print", "-f", "examples/hello.py", "-j", "hello"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "  calm_greetings (graph greet_everywhere)  <- pick_name" in lines
    assert "    join_lines  <- hello_en, hello_fr, hello_es" in lines
    assert "        name: String, required" in lines
    assert "        shout: Bool = False" in lines


def test_the_scaffold_marks_required_fields_and_fills_defaults() -> None:
    text = scaffold_config(pipeline)
    assert "threshold: 0  # Int, required" in text
    assert "label: default  # String = 'default'" in text
    assert "factor: 2  # Int = 2" in text
    assert "unit: ''  # String, required" in text
    config = yaml.safe_load(text)
    config["ops"]["measure"]["config"]["threshold"] = 5
    config["ops"]["scale"]["config"]["unit"] = "m"
    compile_plan(pipeline, config)  # accepted as it is, once the required fields are filled


@op
def constant() -> int:
    return 1


@job
def no_config():
    constant()


def test_a_job_without_config_scaffolds_an_empty_mapping() -> None:
    assert yaml.safe_load(scaffold_config(no_config)) == {}
    result = CliRunner().invoke(main, ["job", "scaffold-config", "-f", "missing.py"])
    assert result.exit_code == 2
    assert "missing.py" in result.output
