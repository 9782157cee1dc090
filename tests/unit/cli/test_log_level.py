"""``--log-level`` works before or after the subcommand, never past ``--``."""

from __future__ import annotations

import logging
from pathlib import Path

import click
from click.testing import CliRunner

from opgrid.orchestrator.cli import _log_level_first, main

ROOT = Path(__file__).resolve().parents[3]


def test_log_level_after_a_subcommand_is_taken_by_the_root_group(monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    root = logging.getLogger()
    monkeypatch.setattr(root, "level", root.level)
    monkeypatch.setattr(root, "handlers", [])
    result = CliRunner().invoke(
        main, ["job", "list", "-f", "examples/hello.py", "--log-level", "debug"]
    )
    assert result.exit_code == 0, result.output
    assert "hello" in result.output
    assert root.level == logging.DEBUG


def test_a_bad_level_after_a_subcommand_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["job", "list", "--log-level=loud", "-f", "x.py"])
    assert result.exit_code == 2
    assert "'loud' is not one of" in result.output


def test_arguments_after_a_double_dash_stay_where_they_are() -> None:
    args = ["worker", "-f", "jobs.py", "--", "--log-level", "x"]
    assert _log_level_first(args) == args
    assert _log_level_first(["run", "list", "--log-level", "info", "--limit", "3"]) == [
        "--log-level",
        "info",
        "run",
        "list",
        "--limit",
        "3",
    ]


def test_no_help_text_shows_restructuredtext_markup() -> None:
    seen: list[str] = []

    def walk(command: click.Command, path: list[str]) -> None:
        text = CliRunner().invoke(main, [*path, "--help"]).output
        if "``" in text or ":class:" in text or ":func:" in text:
            seen.append(" ".join(path))
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(main, [])
    assert seen == []
