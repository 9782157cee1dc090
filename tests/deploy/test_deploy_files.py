"""The files of ``deploy/`` agree with the code, and with each other.

No Docker engine or Kubernetes cluster runs here: the files are parsed as those
tools parse them, and every command, option and setting they name is resolved
against opgrid's click commands, Celery's, Flower's and ``Settings``.
"""

from __future__ import annotations

import fnmatch
import itertools
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from tornado.options import options as tornado_options

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from opgrid.orchestrator.settings import Settings

from .manifests import (
    COMPOSE,
    DEPLOY,
    DOCKERFILE,
    ENV_EXAMPLE,
    K8S,
    METRICS_PENDING_REASON,
    ROOT,
    SYSTEMD,
    SYSTEMD_ENV_EXAMPLE,
    Command,
    check_celery,
    check_opgrid,
    compose_service_argv,
    compose_variables,
    dockerfile_instructions,
    every_command,
    healthcheck_argv,
    image_entrypoint,
    image_workdir,
    k8s_documents,
    k8s_files,
    k8s_object,
    load_compose,
    pod_templates,
    read_env_file,
    referenced_variables,
    shell_commands,
    systemd_units,
    unit_settings,
)

COMMANDS = every_command()
OPGRID_VARIABLES = referenced_variables("OPGRID")
FLOWER_VARIABLES = referenced_variables("FLOWER")
#: Commands whose arguments these tests resolve.
CHECKED_PROGRAMS = {"opgrid": check_opgrid, "celery": check_celery}


def _worker_deployment() -> dict[str, Any]:
    (worker,) = [
        doc
        for doc, pod in pod_templates()
        if doc["kind"] == "Deployment" and pod["containers"][0].get("args", [None])[0] == "worker"
    ]
    return worker


def _flags(argv: list[str]) -> dict[str, str]:
    """``--name value`` pairs of a command line."""
    return {name: value for name, value in itertools.pairwise(argv) if name.startswith("--")}


# Parsing ----------------------------------------------------------------------------------
def test_the_compose_file_and_every_k8s_manifest_parse_as_yaml() -> None:
    assert yaml.safe_load(COMPOSE.read_text())["services"]
    for path in k8s_files():
        documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        assert documents, path.name
        for doc in documents:
            assert {"apiVersion", "kind"} <= doc.keys(), path.name
            if doc["kind"] != "Kustomization":
                assert doc["metadata"]["name"], path.name


def test_the_kustomization_lists_every_manifest_and_sets_the_namespace() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    manifests = {path.name for path in k8s_files()} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == manifests
    (namespace,) = [doc for doc in k8s_documents() if doc["kind"] == "Namespace"]
    assert kustomization["namespace"] == namespace["metadata"]["name"]
    assert [image["name"] for image in kustomization["images"]] == ["opgrid"]


# Commands and settings ----------------------------------------------------------------------
def test_the_deploy_files_name_the_commands_of_every_role() -> None:
    named = {(command.where.split()[0], command.program) for command in COMMANDS}
    for where in ("compose", "k8s", "systemd", "deploy/README.md"):
        assert {(where, "opgrid"), (where, "celery")} <= named, where
    subcommands = {command.argv[1] for command in COMMANDS if command.program == "opgrid"}
    assert {"worker", "coordinator", "job"} <= subcommands


@pytest.mark.parametrize(
    "command",
    [command for command in COMMANDS if command.program in CHECKED_PROGRAMS],
    ids=lambda command: f"{command.where}: {' '.join(command.argv)}",
)
def test_every_opgrid_and_celery_command_is_a_real_command_with_real_options(
    command: Command,
) -> None:
    CHECKED_PROGRAMS[command.program](list(command.argv[1:]))


def test_the_command_check_refuses_what_does_not_exist() -> None:
    with pytest.raises(AssertionError, match="'workers' is not a command"):
        check_opgrid(["workers", "-f", "jobs.py"])
    with pytest.raises(AssertionError, match=r"No such option.*--concurency"):
        check_opgrid(["coordinator", "--concurency", "2"])
    with pytest.raises(AssertionError, match="concurency"):  # handed on to celery worker
        check_opgrid(["worker", "-f", "jobs.py", "--concurency", "2"])
    with pytest.raises(AssertionError, match="not opgrid's app"):
        check_celery(["-A", "proj", "flower"])
    with pytest.raises(AssertionError, match="Flower has no --prot"):
        check_celery(["-A", "opgrid.workers.app", "flower", "--prot=5555"])
    with pytest.raises(AssertionError, match="no `celery inspect pong`"):
        check_celery(["-A", "opgrid.workers.app", "inspect", "pong"])


def test_python_snippets_in_health_checks_compile() -> None:
    snippets = [
        argv[2]
        for service in load_compose()["services"].values()
        if "healthcheck" in service
        for argv in [healthcheck_argv(service["healthcheck"]["test"])]
        if argv[:2] == ["python", "-c"]
    ]
    assert len(snippets) == 2  # coordinator and flower
    for snippet in snippets:
        compile(snippet, "<healthcheck>", "exec")


@pytest.mark.parametrize("name", sorted(OPGRID_VARIABLES))
def test_every_opgrid_variable_named_in_deploy_is_a_setting(name: str) -> None:
    field = name.removeprefix("OPGRID_").lower()
    if field == "metrics_port" and field not in Settings.model_fields:
        pytest.skip(METRICS_PENDING_REASON)
    assert field in Settings.model_fields, f"{name} (in {OPGRID_VARIABLES[name]}) is no setting"


@pytest.mark.parametrize("name", sorted(FLOWER_VARIABLES))
def test_every_flower_variable_is_a_flower_option(name: str) -> None:
    import flower.options  # noqa: F401 (defines Flower's options)

    option = name.removeprefix("FLOWER_").lower()
    assert option in set(tornado_options), f"{name} (in {FLOWER_VARIABLES[name]}) is ignored"


def test_the_example_settings_are_valid_settings() -> None:
    for path in (ENV_EXAMPLE, SYSTEMD_ENV_EXAMPLE):
        values = read_env_file(path)
        opgrid_values = {
            key.removeprefix("OPGRID_").lower(): value
            for key, value in values.items()
            if key.startswith("OPGRID_")
        }
        Settings(**opgrid_values)
    config = k8s_object("ConfigMap", "opgrid-config")["data"]
    Settings(**{key.removeprefix("OPGRID_").lower(): value for key, value in config.items()})


# Docker Compose ---------------------------------------------------------------------------
def test_every_compose_service_has_a_healthcheck() -> None:
    services = load_compose()["services"]
    assert set(services) == {"redis", "coordinator", "worker", "flower"}
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), name
    redis_check = services["redis"]["healthcheck"]["test"]
    assert shell_commands(healthcheck_argv(redis_check)[2])[0] == ["redis-cli", "ping"]


def test_compose_redis_keeps_its_data_and_never_evicts() -> None:
    redis = load_compose()["services"]["redis"]
    argv = compose_service_argv(redis)
    assert argv[0] == "redis-server"
    flags = _flags(argv)
    assert flags["--appendonly"] == "yes"
    assert flags["--appendfsync"] == "everysec"
    assert flags["--maxmemory-policy"] == "noeviction"
    assert flags["--requirepass"] == read_env_file(ENV_EXAMPLE)["REDIS_PASSWORD"]
    assert any(volume.endswith(":/data") for volume in redis["volumes"])
    with pytest.raises(AssertionError, match="REDIS_PASSWORD"):  # no password, no cluster
        load_compose({"OPGRID_LOCATIONS": "hello.py"})


def test_the_worker_service_scales_and_its_healthcheck_pings_its_own_node() -> None:
    worker = load_compose()["services"]["worker"]
    assert "container_name" not in worker
    assert "ports" not in worker
    argv = compose_service_argv(worker)
    assert argv[:2] == ["opgrid", "worker"]
    assert "-n" not in argv and "--hostname" not in argv  # Celery's default: celery@<hostname>
    (ping,) = shell_commands(healthcheck_argv(worker["healthcheck"]["test"])[2])
    assert ping[-2:] == ["-d", "celery@$HOSTNAME"]
    assert worker["stop_signal"] == "SIGTERM"


def test_compose_runs_the_example_code_location_out_of_the_box() -> None:
    compose = load_compose()
    worker = compose["services"]["worker"]
    (mount,) = worker["volumes"]
    host_dir, container_dir, mode = mount.split(":")
    assert (container_dir, mode) == (image_workdir(), "ro")
    location = worker["command"][worker["command"].index("-f") + 1]
    assert (DEPLOY / host_dir / location).is_file()
    assert compose["services"]["flower"]["environment"]["OPGRID_LOCATIONS"] == ""
    assert compose["services"]["coordinator"]["environment"]["OPGRID_METRICS_PORT"] == "9808"
    assert "9808/healthz" in " ".join(compose["services"]["coordinator"]["healthcheck"]["test"])


def test_the_example_redis_url_reaches_the_redis_service_with_its_password() -> None:
    values = compose_variables()
    url = urlsplit(values["OPGRID_REDIS_URL"])
    assert url.hostname in load_compose()["services"]
    assert url.hostname == "redis"
    assert url.password == values["REDIS_PASSWORD"]


# Kubernetes ---------------------------------------------------------------------------------
def test_k8s_redis_keeps_its_data_and_never_evicts() -> None:
    redis = k8s_object("StatefulSet", "opgrid-redis")
    (container,) = redis["spec"]["template"]["spec"]["containers"]
    flags = _flags(container["args"])
    assert flags["--appendonly"] == "yes"
    assert flags["--appendfsync"] == "everysec"
    assert flags["--maxmemory-policy"] == "noeviction"
    (claim,) = redis["spec"]["volumeClaimTemplates"]
    mounts = {mount["name"]: mount["mountPath"] for mount in container["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == "/data"
    assert redis["spec"]["serviceName"] == "opgrid-redis"
    k8s_object("Service", "opgrid-redis")


def test_the_secret_redis_url_names_the_redis_service_and_its_password() -> None:
    secret = k8s_object("Secret", "opgrid-secrets")["stringData"]
    url = urlsplit(secret["OPGRID_REDIS_URL"])
    k8s_object("Service", url.hostname)
    assert url.password == secret["REDIS_PASSWORD"]
    assert url.port == 6379
    assert "OPGRID_SECRET" in secret


def test_keda_scales_the_worker_deployment_on_the_redis_list_of_its_queue() -> None:
    (scaled,) = [doc for doc in k8s_documents() if doc["kind"] == "ScaledObject"]
    worker = _worker_deployment()
    assert scaled["spec"]["scaleTargetRef"]["name"] == worker["metadata"]["name"]
    assert scaled["spec"]["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "redis"
    config = k8s_object("ConfigMap", "opgrid-config")["data"]
    args = worker["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "-Q" not in args and "--queues" not in args  # it consumes the default queue
    queue = config.get("OPGRID_DEFAULT_QUEUE", Settings().default_queue)
    assert trigger["metadata"]["listName"] == queue
    url = urlsplit(k8s_object("Secret", "opgrid-secrets")["stringData"]["OPGRID_REDIS_URL"])
    assert trigger["metadata"]["databaseIndex"] == url.path.strip("/")
    namespace = yaml.safe_load((K8S / "kustomization.yaml").read_text())["namespace"]
    host, port = trigger["metadata"]["address"].rsplit(":", 1)
    assert (host, int(port)) == (f"{url.hostname}.{namespace}.svc.cluster.local", url.port)
    auth = k8s_object("TriggerAuthentication", trigger["authenticationRef"]["name"])
    (ref,) = auth["spec"]["secretTargetRef"]
    assert ref["parameter"] == "password"
    secret = k8s_object("Secret", ref["name"])["stringData"]
    assert secret[ref["key"]] == url.password


def test_k8s_references_resolve_to_objects_ports_and_keys() -> None:
    for workload, pod in pod_templates():
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert workload["spec"]["selector"]["matchLabels"].items() <= labels.items()
        for container in pod["containers"]:
            where = f"{workload['metadata']['name']}/{container['name']}"
            for source in container.get("envFrom", []):
                kind, ref = ("ConfigMap", "configMapRef") if "configMapRef" in source else (
                    "Secret", "secretRef")  # fmt: skip
                k8s_object(kind, source[ref]["name"])
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in k8s_object("Secret", ref["name"])["stringData"], where
            ports = {port["name"] for port in container.get("ports", [])}
            for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
                action = container.get(probe, {})
                named = (action.get("httpGet") or action.get("tcpSocket") or {}).get("port")
                assert named is None or named in ports, f"{where} {probe}: no port {named!r}"
    templates = [doc["spec"]["template"]["metadata"]["labels"] for doc, _ in pod_templates()]
    for service in (doc for doc in k8s_documents() if doc["kind"] == "Service"):
        selector = service["spec"]["selector"]
        assert any(selector.items() <= labels.items() for labels in templates), service


def test_every_opgrid_pod_runs_the_image_as_its_non_root_user_with_probes() -> None:
    for workload, pod in pod_templates():
        (container,) = pod["containers"]
        assert "livenessProbe" in container or "readinessProbe" in container, workload
        if container["image"] == "opgrid":
            assert pod["securityContext"]["runAsNonRoot"] is True
            assert pod["securityContext"]["runAsUser"] == int(_image_user().split(":")[0])
    coordinator = k8s_object("Deployment", "opgrid-coordinator")
    assert coordinator["spec"]["replicas"] >= 2
    (container,) = coordinator["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    metrics = {port["name"]: port["containerPort"] for port in container["ports"]}["metrics"]
    assert {"name": "OPGRID_METRICS_PORT", "value": str(metrics)} in container["env"]
    flower = k8s_object("Deployment", "opgrid-flower")["spec"]["template"]["spec"]
    assert flower["containers"][0]["readinessProbe"]["httpGet"]["path"] == "/healthcheck"
    for service in ("opgrid-flower", "opgrid-coordinator-metrics"):
        k8s_object("Service", service)


# systemd ----------------------------------------------------------------------------------
@pytest.mark.parametrize("unit", systemd_units(), ids=lambda path: path.name)
def test_every_systemd_unit_runs_as_its_user_from_the_env_file_and_always_restarts(
    unit: Path,
) -> None:
    settings = unit_settings(unit)
    assert settings["User"] == ["opgrid"]
    assert settings["EnvironmentFile"] == ["/etc/opgrid/opgrid.env"]
    assert settings["Restart"] == ["always"]
    assert settings["KillSignal"] == ["SIGTERM"]
    assert int(settings["TimeoutStopSec"][0]) > 0
    assert settings["WantedBy"] == ["multi-user.target"]


def test_the_systemd_worker_is_a_template_that_shuts_down_warm() -> None:
    names = {unit.name for unit in systemd_units()}
    assert names == {
        "opgrid-worker@.service",
        "opgrid-coordinator.service",
        "opgrid-flower.service",
    }
    worker = unit_settings(SYSTEMD / "opgrid-worker@.service")
    assert "%i" in worker["ExecStart"][0]  # one Celery node name per instance
    assert worker["KillMode"] == ["mixed"]  # SIGTERM to Celery's main process only
    assert int(worker["TimeoutStopSec"][0]) >= 60


# The image ----------------------------------------------------------------------------------
def _image_user() -> str:
    return [args for name, args in dockerfile_instructions() if name == "USER"][-1]


def test_the_dockerfile_installs_the_project_and_flower_and_runs_opgrid_as_non_root() -> None:
    instructions = dockerfile_instructions()
    base = [args for name, args in instructions if name == "FROM"]
    version = dict(
        args.split("=", 1) for name, args in instructions if name == "ARG" and "=" in args
    )
    image = base[-1].replace("${PYTHON_VERSION}", version["PYTHON_VERSION"])
    found = re.fullmatch(r"python:3\.(\d+)-slim(-\w+)?", image)
    assert found and int(found.group(1)) >= 10, image
    assert _image_user().split(":")[0] not in ("root", "0")
    assert any(name == "RUN" and "useradd" in args for name, args in instructions)
    assert image_entrypoint() == ["opgrid"]
    assert image_workdir() == "/code"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    copied = " ".join(args for name, args in instructions if name == "COPY")
    for folder in pyproject["tool"]["setuptools"]["package-dir"].values():
        assert f"{folder}/" in copied, f"the image does not copy {folder}/"
    assert "pyproject.toml" in copied and "README.md" in copied  # the project's readme
    (install,) = [args for name, args in instructions if name == "RUN" and "pip install" in args]
    assert '"flower>=2"' in install
    code_dir = version["CODE_DIR"]
    for location in (
        compose_variables()["OPGRID_LOCATIONS"],
        k8s_object("ConfigMap", "opgrid-config")["data"]["OPGRID_LOCATIONS"],
    ):
        assert (ROOT / code_dir / location).is_file(), location


def test_the_dockerignore_keeps_what_the_image_copies_and_drops_secrets() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(path: str) -> bool:
        return any(
            fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(path, pattern.removeprefix("**/"))
            for pattern in patterns
        )

    sources = ["pyproject.toml", "README.md", "core/__init__.py", "orchestrator/cli.py"]
    sources += ["workers/app.py", "examples/hello.py"]
    assert [path for path in sources if ignored(path)] == []
    assert ignored(".env") and ignored("deploy/.env") and ignored(".venv")
    assert DOCKERFILE.parent == DEPLOY
