"""``opgrid job execute --op-selection``: Dagster's selection syntax, in process."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from opgrid.orchestrator.cli import main

ROOT = Path(__file__).resolve().parents[3]
HELLO = ("job", "execute", "-f", "examples/hello.py", "-j", "hello")


def test_a_selection_with_downstream_runs_those_ops_only(monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, [*HELLO, "--op-selection", "pick_name,calm_greetings*"])
    assert result.exit_code == 0, result.output
    assert "  success  calm_greetings.join_lines" in result.output
    assert "  success  say" in result.output
    assert "shout" not in result.output and "loud_greetings" not in result.output
    assert "steps   6 success" in result.output


def test_a_selection_naming_no_node_is_a_usage_error_that_lists_the_nodes(monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, [*HELLO, "--op-selection", "nope"])
    assert result.exit_code == 2
    assert "cannot select ops of job 'hello'" in result.output
    assert "pick_name, calm_greetings" in result.output
