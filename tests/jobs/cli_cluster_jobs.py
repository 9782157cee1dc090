"""Jobs for the cluster CLI tests: a code location that worker processes load by file.

``tests/integration/test_cli_cluster.py`` starts ``opgrid worker -f`` this file and
submits its jobs with ``opgrid job submit -f`` the same path.
"""

from __future__ import annotations

from opgrid import Config, OpExecutionContext, job, op


class GreetingConfig(Config):
    name: str = "cluster"


@op
def greet(context: OpExecutionContext, config: GreetingConfig) -> str:
    context.log.info(f"greeting {config.name}")
    return f"hello {config.name}"


@op
def count_letters(context: OpExecutionContext, text: str) -> int:
    context.log.info(f"counting the letters of {text!r}")
    return sum(character.isalpha() for character in text)


@job(tags={"suite": "cli"})
def greeting() -> None:
    """Greet, then count the letters of the greeting."""
    count_letters(greet())


@op
def explode() -> int:
    raise ValueError("the cluster test op failed on purpose")


@op
def never_runs(value: int) -> int:
    return value


@job
def broken() -> None:
    """Its first op raises; the one downstream never runs."""
    never_runs(explode())
