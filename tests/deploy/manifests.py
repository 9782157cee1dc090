"""Reading the files of ``deploy/`` as Docker Compose, Kubernetes and systemd would.

The tests check these files against the code: every ``opgrid``/``celery`` command
they name is parsed by the real click commands, every ``OPGRID_*`` variable is a
field of ``Settings``. Compose's ``${VAR:-default}`` interpolation, the image's
entry point and working directory, Kubernetes' ``$(VAR)`` and systemd's
specifiers are applied here the way those tools apply them.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import yaml
from celery.bin.celery import celery as celery_main
from celery.worker.control import Panel
from tornado.options import options as tornado_options

from opgrid.orchestrator.cli import main as opgrid_main
from opgrid.orchestrator.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "docker-compose.yml"
ENV_EXAMPLE = DEPLOY / ".env.example"
K8S = DEPLOY / "k8s"
SYSTEMD = DEPLOY / "systemd"
SYSTEMD_ENV_EXAMPLE = SYSTEMD / "opgrid.env.example"
README = DEPLOY / "README.md"

#: The Celery app every ``celery -A`` must name.
CELERY_APP = "opgrid.workers.app"


def _coordinator_serves_metrics() -> bool:
    """Whether ``opgrid coordinator`` has its HTTP server (``/metrics``, ``/healthz``): the
    ``metrics_port`` setting and the ``--metrics-port`` option."""
    command = opgrid_main.get_command(click.Context(opgrid_main), "coordinator")
    options = {option for param in (command.params if command else []) for option in param.opts}
    return "metrics_port" in Settings.model_fields and "--metrics-port" in options


#: The coordinator's HTTP server is being added elsewhere; what needs it waits for it.
METRICS_PENDING = not _coordinator_serves_metrics()
METRICS_PENDING_REASON = (
    "waits on the coordinator's metrics server (OPGRID_METRICS_PORT, --metrics-port, /healthz)"
)


_COMPOSE_VARIABLE = re.compile(
    r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<bare>[A-Za-z_]\w*)"
)
_SHELL_SEPARATORS = frozenset({"&&", "||", ";", "|", "&"})
_ASSIGNMENT = re.compile(r"^[A-Za-z_]\w*=")


# Files --------------------------------------------------------------------------------------
def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines, as Compose's ``.env`` and systemd's ``EnvironmentFile=`` read them."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: {line!r} is not KEY=VALUE"
            values[key.strip()] = value.strip()
    return values


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """Compose's interpolation: ``$$``, ``${X}``, ``${X:-d}``, ``${X-d}``, ``${X:?e}``, ``$X``."""

    def replace(found: re.Match[str]) -> str:
        if found.group(0) == "$$":
            return "$"
        name = found.group("name") or found.group("bare")
        op, arg = found.group("op"), found.group("arg") or ""
        value = variables.get(name)
        empty = not value
        if op in (":-", "-"):
            return arg if (empty if op == ":-" else value is None) else str(value)
        if op in (":?", "?") and (empty if op == ":?" else value is None):
            raise AssertionError(f"compose needs {name}: {arg}")
        return value or ""

    return _COMPOSE_VARIABLE.sub(replace, text)


def _interpolated(value: Any, variables: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return interpolate(value, variables)
    if isinstance(value, list):
        return [_interpolated(item, variables) for item in value]
    if isinstance(value, dict):
        return {key: _interpolated(item, variables) for key, item in value.items()}
    return value


def compose_variables(**overrides: str) -> dict[str, str]:
    """What Compose interpolates with: ``.env`` (here ``.env.example``), then ``overrides``."""
    return {**read_env_file(ENV_EXAMPLE), **overrides}


def load_compose(variables: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The compose file, interpolated with ``variables`` (``.env.example`` by default)."""
    loaded = yaml.safe_load(COMPOSE.read_text())
    result: dict[str, Any] = _interpolated(loaded, variables or compose_variables())
    return result


def k8s_files() -> list[Path]:
    return sorted(K8S.glob("*.yaml"))


def k8s_documents() -> list[dict[str, Any]]:
    """Every object of the Kubernetes manifests (the kustomization excluded)."""
    documents = []
    for path in k8s_files():
        if path.name != "kustomization.yaml":
            documents += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return documents


def k8s_object(kind: str, name: str) -> dict[str, Any]:
    (found,) = [
        doc for doc in k8s_documents() if doc["kind"] == kind and doc["metadata"]["name"] == name
    ]
    return found


def pod_templates() -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """``(workload, pod spec)`` of every Deployment and StatefulSet."""
    for doc in k8s_documents():
        if doc["kind"] in ("Deployment", "StatefulSet"):
            yield doc, doc["spec"]["template"]["spec"]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, arguments = line.partition(" ")
            found.append((instruction.upper(), arguments.strip()))
    return found


def image_entrypoint() -> list[str]:
    (entrypoint,) = [args for name, args in dockerfile_instructions() if name == "ENTRYPOINT"]
    argv: list[str] = json.loads(entrypoint)
    return argv


def image_workdir() -> str:
    return [args for name, args in dockerfile_instructions() if name == "WORKDIR"][-1]


def unit_settings(path: Path) -> dict[str, list[str]]:
    """A systemd unit's ``Key=value`` lines, by key, every section together."""
    settings: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


# Commands ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Command:
    """One command line found in a deploy file."""

    where: str
    argv: tuple[str, ...]

    @property
    def program(self) -> str:
        return Path(self.argv[0]).name


def shell_commands(script: str) -> list[list[str]]:
    """The simple commands of a shell line: split at ``&&``, ``|``, ``;``; without the
    leading ``VAR=value`` assignments, ``exec`` and ``env [-u NAME]``."""
    lexer = shlex.shlex(script, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token in _SHELL_SEPARATORS:
            commands.append([])
        else:
            commands[-1].append(token)
    return [stripped for argv in commands if (stripped := strip_prefixes(argv))]


def strip_prefixes(argv: list[str]) -> list[str]:
    """``VAR= exec env -u X celery ...`` -> ``celery ...``."""
    argv = list(argv)
    while argv:
        if _ASSIGNMENT.match(argv[0]) or argv[0] == "exec":
            argv.pop(0)
        elif Path(argv[0]).name == "env":
            argv.pop(0)
            while argv and argv[0] == "-u":
                del argv[:2]
        else:
            break
    return argv


def healthcheck_argv(test: list[str] | str) -> list[str]:
    """What Docker runs for a compose ``healthcheck.test``."""
    if isinstance(test, str):
        return ["sh", "-c", test]
    if test[0] == "CMD-SHELL":
        return ["sh", "-c", test[1]]
    assert test[0] == "CMD", f"a healthcheck test starts with CMD or CMD-SHELL, not {test[0]!r}"
    return list(test[1:])


def _commands_of(where: str, argv: list[str]) -> list[Command]:
    """``argv`` itself, or the commands of its script when it is ``sh -c SCRIPT``."""
    if len(argv) >= 3 and Path(argv[0]).name in ("sh", "bash") and argv[1] == "-c":
        return [Command(where, tuple(found)) for found in shell_commands(argv[2])]
    return [Command(where, tuple(strip_prefixes(argv)))]


def compose_service_argv(service: Mapping[str, Any]) -> list[str]:
    """The command line a compose service's container runs: entry point, then command."""
    entrypoint = service.get("entrypoint", image_entrypoint() if "build" in service else [])
    command = service.get("command", [])
    as_list = [entrypoint, command]
    return [
        arg for part in as_list for arg in (shlex.split(part) if isinstance(part, str) else part)
    ]


def compose_commands() -> list[Command]:
    commands = []
    for name, service in load_compose()["services"].items():
        commands += _commands_of(f"compose {name}", compose_service_argv(service))
        test = service.get("healthcheck", {}).get("test")
        if test:
            commands += _commands_of(f"compose {name} healthcheck", healthcheck_argv(test))
    return commands


def _k8s_expand(arg: str, env: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` in command and args."""
    return re.sub(r"\$\((\w+)\)", lambda found: env.get(found.group(1), found.group(0)), arg)


def k8s_commands() -> list[Command]:
    config = k8s_object("ConfigMap", "opgrid-config")["data"]
    commands = []
    for workload, pod in pod_templates():
        for container in pod["containers"]:
            where = f"k8s {workload['metadata']['name']}/{container['name']}"
            is_opgrid = container["image"].split(":")[0] == "opgrid"
            entrypoint = container.get("command", image_entrypoint() if is_opgrid else [])
            argv = [_k8s_expand(arg, config) for arg in [*entrypoint, *container.get("args", [])]]
            if argv:
                commands += _commands_of(where, argv)
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                exec_action = container.get(probe, {}).get("exec")
                if exec_action:
                    commands += _commands_of(f"{where} {probe}", exec_action["command"])
    return commands


def systemd_argv(line: str, environment: Mapping[str, str]) -> list[str]:
    """An ``ExecStart=`` line as systemd runs it: specifiers, ``${VAR}`` and ``$VAR``."""
    line = line.replace("%%", "\0").replace("%i", "1").replace("%H", "host").replace("\0", "%")
    argv = []
    for word in shlex.split(line):
        if re.fullmatch(r"\$\w+", word):  # $VAR: split into words, none if empty
            argv += environment.get(word[1:], "").split()
        else:
            argv.append(re.sub(r"\$\{(\w+)\}", lambda m: environment.get(m.group(1), ""), word))
    return argv


def systemd_units() -> list[Path]:
    return sorted(SYSTEMD.glob("*.service"))


def systemd_commands() -> list[Command]:
    environment = read_env_file(SYSTEMD_ENV_EXAMPLE)
    commands = []
    for unit in systemd_units():
        for line in unit_settings(unit).get("ExecStart", []):
            commands += _commands_of(f"systemd {unit.name}", systemd_argv(line, environment))
    return commands


def readme_commands() -> list[Command]:
    """The commands in the README's ``bash`` blocks."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
    commands = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            commands += [Command("deploy/README.md", tuple(argv)) for argv in shell_commands(line)]
    return commands


def every_command() -> list[Command]:
    return compose_commands() + k8s_commands() + systemd_commands() + readme_commands()


# Checking commands against the real CLIs -----------------------------------------------------
def _rest(ctx: click.Context) -> list[str]:
    """The arguments a group left for its subcommand (click 8.1 and 8.2+ alike)."""
    protected = getattr(ctx, "_protected_args", None)
    if protected is None:
        protected = ctx.protected_args
    return [*protected, *ctx.args]


def parse_command(group: click.Group, name: str, args: list[str]) -> list[click.Context]:
    """Parse ``args`` down through ``group``'s subcommands without running anything.

    Returns the contexts from the group to the command that would run. Raises
    ``AssertionError`` naming the command when click refuses a command, option or value.
    """
    line = " ".join([name, *args])
    try:
        contexts = [group.make_context(name, list(args))]
        command: click.Command = group
        while isinstance(command, click.Group):
            rest = _rest(contexts[-1])
            assert rest, f"`{line}` names no subcommand of {name}"
            sub = command.get_command(contexts[-1], rest[0])
            assert sub is not None, f"`{line}`: {rest[0]!r} is not a command of {command.name}"
            contexts.append(sub.make_context(rest[0], rest[1:], parent=contexts[-1]))
            command = sub
    except click.ClickException as exc:
        raise AssertionError(f"`{line}`: {exc.format_message()}") from exc
    return contexts


def check_opgrid(args: list[str]) -> None:
    """``opgrid ARGS`` is a command of ``opgrid.orchestrator.cli.main`` with valid options."""
    contexts = parse_command(opgrid_main, "opgrid", args)
    leaf = contexts[-1]
    if leaf.command.name == "worker" and leaf.params["celery_args"]:
        # what ``opgrid worker`` does not know, it hands to ``celery worker``
        check_celery(["-A", CELERY_APP, "worker", *leaf.params["celery_args"]])


def check_celery(args: list[str]) -> None:
    """``celery ARGS``: opgrid's app, a Celery command, its options; Flower's options too."""
    contexts = parse_command(celery_main, "celery", args)
    assert contexts[0].params["app"] == CELERY_APP, f"`celery {' '.join(args)}`: not opgrid's app"
    leaf = contexts[-1]
    if leaf.command.name == "inspect":
        action = leaf.params["command"]
        meta = Panel.meta.get(action)
        assert meta is not None and meta.type == "inspect", f"no `celery inspect {action}`"
    if leaf.command.name == "flower":
        known = set(tornado_options)  # flower.options defined them on import of the command
        for arg in leaf.params["tornado_argv"]:
            if arg.startswith("--"):
                option = arg[2:].split("=", 1)[0].replace("-", "_")
                assert option in known, f"`celery {' '.join(args)}`: Flower has no --{option}"


# Variables -----------------------------------------------------------------------------------
#: Files under ``deploy/`` that are not text (README's screenshots).
_BINARY_SUFFIXES = frozenset({".png"})


def deploy_files() -> list[Path]:
    """The text files of ``deploy/``."""
    return sorted(
        path for path in DEPLOY.rglob("*") if path.is_file() and path.suffix not in _BINARY_SUFFIXES
    )


def referenced_variables(prefix: str) -> dict[str, list[str]]:
    """Every ``PREFIX_NAME`` in the files of ``deploy/``, with the files that name it."""
    found: dict[str, list[str]] = {}
    for path in deploy_files():
        for name in set(re.findall(rf"\b{prefix}_[A-Z0-9_]*[A-Z0-9]\b", path.read_text())):
            found.setdefault(name, []).append(str(path.relative_to(ROOT)))
    return found
