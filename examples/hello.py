"""opgrid's hello world: greet someone in three languages, calmly or loudly.

It shows the jobs & graphs API in one small job, ``hello``:

- a resource (``phrasebook``) with config and a default,
- typed op config (``NameConfig``), given a default by ``config=`` on the job,
- a conditional branch: ``pick_name`` yields only one of two optional outputs,
  and every step of the other branch is skipped,
- a graph (``greet_everywhere``) used twice under two aliases, each use a
  fan-out to one op per language and a fan-in back to one text,
- ``context.log`` lines.

Run it::

    opgrid job execute -f examples/hello.py -j hello
    opgrid job execute -f examples/hello.py -j hello -c shout.yaml

where ``shout.yaml`` holds::

    ops:
      pick_name:
        config: {name: Ada, shout: true}

``polyglot`` is the graph alone, turned into a job with an input value.
"""

from __future__ import annotations

from collections.abc import Iterator

from opgrid import (
    Config,
    Field,
    InitResourceContext,
    OpDefinition,
    OpExecutionContext,
    Out,
    Output,
    graph,
    job,
    op,
    resource,
)

#: How to say hello, by language code.
HELLO = {"en": "Hello", "fr": "Bonjour", "es": "Hola"}


class Phrasebook:
    """Says hello in a language, with the configured punctuation."""

    def __init__(self, punctuation: str) -> None:
        self.punctuation = punctuation

    def hello(self, language: str, name: str) -> str:
        return f"{HELLO[language]}, {name}{self.punctuation}"


@resource(config_schema={"punctuation": Field(str, default_value="!")})
def phrasebook(init_context: InitResourceContext) -> Phrasebook:
    return Phrasebook(init_context.resource_config["punctuation"])


class NameConfig(Config):
    """Who to greet, and how loudly."""

    name: str
    shout: bool = False


@op(out={"calm": Out(str, is_required=False), "loud": Out(str, is_required=False)})
def pick_name(context: OpExecutionContext, config: NameConfig) -> Iterator[Output]:
    """Yield the name on exactly one of two outputs; the other branch is skipped."""
    branch = "loud" if config.shout else "calm"
    context.log.info(f"greeting {config.name} ({branch})")
    yield Output(config.name, branch)


def _greeter(language: str) -> OpDefinition:
    @op(name=f"hello_{language}", required_resource_keys={"phrasebook"})
    def _hello(context: OpExecutionContext, name: str) -> str:
        return str(context.resources.phrasebook.hello(language, name))

    return _hello


#: One greeting op per language (an op factory, as in Dagster).
GREETERS = [_greeter(language) for language in HELLO]


@op
def join_lines(lines: list[str]) -> str:
    return "\n".join(lines)


@graph
def greet_everywhere(name: str) -> str:
    """Fan out to one op per language, then fan back in to one text."""
    return join_lines([greeter(name) for greeter in GREETERS])


@op
def shout(text: str) -> str:
    return text.upper()


@op
def deliver(context: OpExecutionContext, text: str) -> int:
    """Log each line and return how many there were."""
    lines = text.splitlines()
    for line in lines:
        context.log.info(line)
    return len(lines)


@job(
    config={"ops": {"pick_name": {"config": {"name": "world"}}}},
    resource_defs={"phrasebook": phrasebook},
    tags={"example": "hello"},
)
def hello() -> None:
    """Greet someone in three languages, calmly or (with shout: true) loudly."""
    calm, loud = pick_name()
    deliver.alias("say")(greet_everywhere.alias("calm_greetings")(calm))
    deliver.alias("yell")(shout(greet_everywhere.alias("loud_greetings")(loud)))


polyglot = greet_everywhere.to_job(
    name="polyglot",
    description="The greet_everywhere graph alone, for one name given as an input value.",
    resource_defs={"phrasebook": phrasebook},
    input_values={"name": "opgrid"},
)
