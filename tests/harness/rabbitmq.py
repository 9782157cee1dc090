"""A RabbitMQ node of a test's own: ``rabbitmq-server`` on free loopback ports.

The node gets its own name, ports (AMQP and Erlang distribution), data and log
directories and Erlang cookie (its own ``HOME``), so it runs beside any other node
on the machine. ``RabbitServer.available()`` says why a test must skip when the
binary is missing (CI installs Debian's ``rabbitmq-server``).
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

from opgrid.orchestrator.cli.embedded_redis import HOST, free_port

from .processes import signal_group, start, wait_for

#: Where Debian installs the server's scripts (``rabbitmq-server`` on PATH is a wrapper
#: that insists on running as the ``rabbitmq`` user).
SCRIPTS = Path("/usr/lib/rabbitmq/bin")
#: How long the node may take to boot (about 8 s on 2 cores).
BOOT_TIMEOUT_S = 60.0


def server_binary() -> str | None:
    """The ``rabbitmq-server`` script, or None when RabbitMQ is not installed."""
    script = SCRIPTS / "rabbitmq-server"
    return str(script) if script.exists() else shutil.which("rabbitmq-server")


class RabbitServer:
    """One RabbitMQ node; ``url`` is its ``amqp://`` URL (the guest user, loopback)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="opgrid-rabbitmq-"))
        self.port = free_port()
        self.dist_port = free_port()
        self.name = f"opgrid-{uuid.uuid4().hex[:8]}@localhost"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@{HOST}:{self.port}//"

    @property
    def log(self) -> Path:
        return self.dir / "server.log"

    def __enter__(self) -> RabbitServer:
        binary = server_binary()
        assert binary is not None, "rabbitmq-server is not installed"
        (self.dir / "plugins").write_text("[].\n")
        env = {
            "PATH": "/usr/sbin:/usr/bin:/bin",
            "HOME": str(self.dir),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": HOST,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "logs"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq"),
            "RABBITMQ_PID_FILE": str(self.dir / "pid"),
        }
        self.process = start([binary], env, self.log, cwd=self.dir)
        wait_for(self._listening, BOOT_TIMEOUT_S, self._tail)
        return self

    def __exit__(self, *_: object) -> None:
        if self.process is not None:
            signal_group(self.process, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                signal_group(self.process, signal.SIGKILL)
                self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _listening(self) -> bool:
        assert self.process is not None
        assert self.process.poll() is None, self._tail()
        try:
            socket.create_connection((HOST, self.port), timeout=1).close()
        except OSError:
            return False
        return "completed with" in self.log.read_text(errors="replace")

    def _tail(self) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-30:])
