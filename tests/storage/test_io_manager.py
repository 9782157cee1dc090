"""The IO managers: signed pickle envelopes, in Redis values or on a shared volume."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from opgrid.errors import ConfigError, OutputNotFound, StorageError
from opgrid.orchestrator.settings import Settings
from opgrid.orchestrator.store import envelopes as io_module
from opgrid.orchestrator.store.envelopes import (
    FilesystemIOManager,
    IOManager,
    SignedPickleIOManager,
    io_manager_from_settings,
)

SECRET = b"cluster-secret"
WHERE = 'output "result" of op "add_one"'


@dataclass
class Point:
    x: int
    y: int


class Custom:
    def __init__(self, label: str) -> None:
        self.label = label

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Custom) and other.label == self.label


VALUES = [0, 42, -(2**70), None, "text", {"a": [1, 2], "b": {"c": None}}, Point(1, 2), Custom("x")]


@pytest.fixture
def io() -> SignedPickleIOManager:
    return SignedPickleIOManager(SECRET, max_bytes=1 << 20)


@pytest.fixture
def fs_io(tmp_path: Path) -> FilesystemIOManager:
    return FilesystemIOManager(tmp_path / "outputs", SECRET)


@pytest.fixture
def no_unpickling(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail the test if the IO manager calls pickle.loads at all."""
    calls: list[bytes] = []

    def _never(data: bytes, *args: Any, **kwargs: Any) -> Any:
        calls.append(data)
        raise AssertionError("pickle.loads was called on refused data")

    monkeypatch.setattr(io_module.pickle, "loads", _never)
    yield
    assert calls == [], "pickle.loads was called on refused data"


# ----------------------------------------------------------------------- signed pickle


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_values_survive_a_round_trip(io: SignedPickleIOManager, value: Any) -> None:
    assert io.loads(io.dumps(value, where=WHERE), where=WHERE) == value


def test_the_envelope_starts_with_a_version_prefix_then_a_sha256_signature(
    io: SignedPickleIOManager,
) -> None:
    data = io.dumps(1, where=WHERE)
    prefix = io_module.ENVELOPE_PREFIX
    payload = data[len(prefix) + 32 :]
    assert data.startswith(prefix)
    assert data[len(prefix) : len(prefix) + 32] == hmac.digest(SECRET, prefix + payload, "sha256")


def test_an_output_over_the_limit_names_where_its_size_and_the_limit() -> None:
    io = SignedPickleIOManager(SECRET, max_bytes=100)
    with pytest.raises(StorageError) as raised:
        io.dumps(b"x" * 1000, where=WHERE)
    message = str(raised.value)
    assert WHERE in message
    assert "1,0" in message  # the pickle is a little over 1,000 bytes
    assert "100" in message


def test_an_output_at_the_limit_is_accepted() -> None:
    size = len(SignedPickleIOManager(SECRET, max_bytes=1 << 20).dumps(b"x" * 50, where=WHERE))
    io = SignedPickleIOManager(SECRET, max_bytes=size - 36)  # the pickle alone
    assert io.loads(io.dumps(b"x" * 50, where=WHERE), where=WHERE) == b"x" * 50


@pytest.mark.parametrize("value", [threading.Lock(), lambda: 1], ids=["lock", "lambda"])
def test_an_unpicklable_value_names_where_and_its_type_with_the_cause_chained(
    io: SignedPickleIOManager, value: Any
) -> None:
    with pytest.raises(StorageError) as raised:
        io.dumps(value, where=WHERE)
    assert WHERE in str(raised.value)
    assert type(value).__qualname__ in str(raised.value)
    assert raised.value.__cause__ is not None


@pytest.mark.usefixtures("no_unpickling")
def test_a_tampered_byte_anywhere_in_the_envelope_is_refused_unread(
    io: SignedPickleIOManager,
) -> None:
    data = io.dumps({"a": 1}, where=WHERE)
    for index in range(len(data)):
        tampered = bytearray(data)
        tampered[index] ^= 0x01
        with pytest.raises(StorageError, match=r"refused: .*not signed by this cluster's"):
            io.loads(bytes(tampered), where=WHERE)


@pytest.mark.usefixtures("no_unpickling")
def test_an_envelope_signed_with_another_secret_is_refused_unread() -> None:
    data = SignedPickleIOManager(b"other-secret", max_bytes=1 << 20).dumps(1, where=WHERE)
    with pytest.raises(StorageError, match="OPGRID_SECRET") as raised:
        SignedPickleIOManager(SECRET, max_bytes=1 << 20).loads(data, where=WHERE)
    assert WHERE in str(raised.value)


@pytest.mark.usefixtures("no_unpickling")
def test_a_truncated_envelope_is_refused_unread(io: SignedPickleIOManager) -> None:
    data = io.dumps("some value", where=WHERE)
    for length in [0, 2, 4, 20, 36, len(data) - 1]:
        with pytest.raises(StorageError, match="refused"):
            io.loads(data[:length], where=WHERE)


@pytest.mark.usefixtures("no_unpickling")
def test_a_bare_pickle_without_an_envelope_is_refused_unread(io: SignedPickleIOManager) -> None:
    bare = io.dumps(1, where=WHERE)[36:]
    with pytest.raises(StorageError, match="refused"):
        io.loads(bare, where=WHERE)


def test_a_signed_value_whose_class_cannot_be_loaded_raises_storage_error(
    io: SignedPickleIOManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = io.dumps(Custom("x"), where=WHERE)
    monkeypatch.setitem(globals(), "Custom", None)  # the class is gone from its module
    with pytest.raises(StorageError, match="cannot unpickle") as raised:
        io.loads(data, where=WHERE)
    assert raised.value.__cause__ is not None


def test_an_empty_secret_is_rejected() -> None:
    with pytest.raises(ConfigError, match="OPGRID_SECRET"):
        SignedPickleIOManager(b"", max_bytes=10)


def test_the_settings_factory_uses_the_secret_and_the_size_limit() -> None:
    settings = Settings(secret="from-settings", max_output_bytes=64)
    io: IOManager = io_manager_from_settings(settings)
    data = io.dumps(1, where=WHERE)
    assert SignedPickleIOManager(b"from-settings", max_bytes=64).loads(data, where=WHERE) == 1
    with pytest.raises(StorageError, match="too large"):
        io.dumps(b"x" * 100, where=WHERE)


# ------------------------------------------------------------------------- filesystem


def _signed_reference(path: bytes, secret: bytes = SECRET) -> bytes:
    prefix = io_module.FS_REF_PREFIX
    return (
        prefix + hmac.new(secret, prefix + path, hashlib.sha256).hexdigest().encode() + b":" + path
    )


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_filesystem_values_survive_a_round_trip(fs_io: FilesystemIOManager, value: Any) -> None:
    assert fs_io.loads(fs_io.dumps(value, where=WHERE), where=WHERE) == value


def test_filesystem_stores_a_small_reference_and_the_value_in_one_file(
    fs_io: FilesystemIOManager,
) -> None:
    reference = fs_io.dumps(b"x" * 100_000, where=WHERE)
    assert reference.startswith(b"fs1:")
    assert len(reference) < 200
    files = list(fs_io.base_dir.iterdir())
    assert len(files) == 1  # no temporary file left behind
    assert files[0].stat().st_size > 100_000


def test_filesystem_writes_each_value_to_its_own_file(fs_io: FilesystemIOManager) -> None:
    first, second = fs_io.dumps(1, where=WHERE), fs_io.dumps(2, where=WHERE)
    assert first != second
    assert (fs_io.loads(first, where=WHERE), fs_io.loads(second, where=WHERE)) == (1, 2)


@pytest.mark.usefixtures("no_unpickling")
@pytest.mark.parametrize("path", [b"../escape.opg", b"../../etc/passwd", b"/etc/passwd"])
def test_filesystem_refuses_a_signed_reference_that_leaves_base_dir(
    fs_io: FilesystemIOManager, path: bytes
) -> None:
    outside = fs_io.base_dir.parent / "escape.opg"
    outside.write_bytes(SignedPickleIOManager(SECRET, max_bytes=1 << 20).dumps(1, where=WHERE))
    with pytest.raises(StorageError, match="points outside"):
        fs_io.loads(_signed_reference(path), where=WHERE)


@pytest.mark.usefixtures("no_unpickling")
def test_filesystem_refuses_a_reference_signed_with_another_secret(
    fs_io: FilesystemIOManager,
) -> None:
    reference = fs_io.dumps(1, where=WHERE)
    path = reference.rsplit(b":", 1)[1]
    with pytest.raises(StorageError, match="refused"):
        fs_io.loads(_signed_reference(path, secret=b"other"), where=WHERE)


@pytest.mark.usefixtures("no_unpickling")
def test_filesystem_refuses_a_tampered_reference(fs_io: FilesystemIOManager) -> None:
    reference = fs_io.dumps(1, where=WHERE)
    for index in range(len(reference)):
        tampered = bytearray(reference)
        tampered[index] ^= 0x01
        with pytest.raises(StorageError, match="refused"):
            fs_io.loads(bytes(tampered), where=WHERE)


@pytest.mark.usefixtures("no_unpickling")
def test_filesystem_refuses_a_tampered_file(fs_io: FilesystemIOManager) -> None:
    reference = fs_io.dumps({"a": 1}, where=WHERE)
    (file,) = fs_io.base_dir.iterdir()
    data = bytearray(file.read_bytes())
    data[-1] ^= 0x01
    file.write_bytes(bytes(data))
    with pytest.raises(StorageError, match="not signed by this cluster's OPGRID_SECRET"):
        fs_io.loads(reference, where=WHERE)


def test_filesystem_reports_a_missing_file_as_output_not_found(
    fs_io: FilesystemIOManager,
) -> None:
    reference = fs_io.dumps(1, where=WHERE)
    (file,) = fs_io.base_dir.iterdir()
    file.unlink()
    with pytest.raises(OutputNotFound, match="add_one"):
        fs_io.loads(reference, where=WHERE)


def test_filesystem_applies_the_size_limit_before_writing(tmp_path: Path) -> None:
    fs_io = FilesystemIOManager(tmp_path, SECRET, max_bytes=100)
    with pytest.raises(StorageError, match="too large"):
        fs_io.dumps(b"x" * 1000, where=WHERE)
    assert list(tmp_path.iterdir()) == []
