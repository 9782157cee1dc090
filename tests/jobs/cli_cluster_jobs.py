"""Jobs for the cluster CLI tests: a code location that worker processes load by file.

``tests/integration/test_cli_cluster.py`` starts ``opgrid worker -f`` this file and
submits its jobs with ``opgrid job submit -f`` the same path.
"""

from __future__ import annotations

from opgrid import Config, Failure, OpExecutionContext, Output, job, op


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


@op
def load() -> Output[int]:
    return Output(3, metadata={"rows": 3, "source": "s3://bucket/key"})


@op
def summarize(context: OpExecutionContext, rows: int) -> float:
    context.add_output_metadata({"mean": 1.5})
    return rows / 2


@op
def validate(half: float) -> None:
    raise Failure(description="too few rows", metadata={"rows": 3, "minimum": 10})


@job
def measured() -> None:
    """Output metadata both ways, then a Failure with metadata."""
    validate(summarize(load()))
