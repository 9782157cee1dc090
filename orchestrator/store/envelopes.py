"""How step outputs become bytes and back: pickle, signed with the cluster's secret.

An output is stored as an *envelope*::

    b"opg1" | HMAC-SHA256(secret, b"opg1" + payload) (32 bytes) | payload (a pickle)

``loads`` checks the prefix and the signature with ``hmac.compare_digest`` before
anything is unpickled, so bytes that anyone without ``OPGRID_SECRET`` wrote into
Redis (or onto the shared volume) are refused and never reach ``pickle``.

This module is the only place in opgrid allowed to import ``pickle`` (ruff ``TID251``).
"""

from __future__ import annotations

import hashlib
import os
import pickle  # noqa: TID251 -- the one signed output serializer
import tempfile
import uuid
from pathlib import Path
from typing import Any, Protocol

from opgrid.errors import ConfigError, OutputNotFound, StorageError
from opgrid.orchestrator.protocol.signing import sign as _sign
from opgrid.orchestrator.protocol.signing import verify
from opgrid.orchestrator.settings import Settings

#: Version prefix of a signed envelope.
ENVELOPE_PREFIX = b"opg1"
#: Version prefix of a reference to an envelope on the filesystem.
FS_REF_PREFIX = b"fs1:"
#: Length of an HMAC-SHA256 digest.
_DIGEST_BYTES = hashlib.sha256().digest_size
#: Suffix of the files ``FilesystemIOManager`` writes.
_FILE_SUFFIX = ".opg"
#: Permissions of those files: the workers' user and group may read them.
_FILE_MODE = 0o640


class IOManager(Protocol):
    """Turns step outputs into bytes to store, and stored bytes back into values."""

    def dumps(self, value: Any, *, where: str) -> bytes:
        """Serialize ``value``; ``where`` names it in errors (``output "x" of op "y"``)."""
        ...

    def loads(self, data: bytes, *, where: str) -> Any:
        """Deserialize what ``dumps`` returned; refuse anything it did not write."""
        ...


def _refused(where: str, reason: str) -> StorageError:
    return StorageError(
        f"refused: {where} is not signed by this cluster's OPGRID_SECRET ({reason}); "
        "it was not unpickled"
    )


def _checked_secret(secret: bytes) -> bytes:
    if not secret:
        raise ConfigError([("OPGRID_SECRET", "must not be empty")], subject="IO manager settings")
    return secret


class SignedPickleIOManager:
    """The default IO manager: pickle (highest protocol) in an HMAC-signed envelope.

    Args:
        secret: the HMAC key; every process of a cluster must share it.
        max_bytes: largest pickle accepted; larger outputs raise ``StorageError``.
    """

    def __init__(self, secret: bytes, max_bytes: int) -> None:
        self._secret = _checked_secret(secret)
        self.max_bytes = max_bytes

    def dumps(self, value: Any, *, where: str) -> bytes:
        """Pickle ``value`` and sign it.

        Raises:
            StorageError: ``value`` cannot be pickled, or its pickle exceeds ``max_bytes``.
        """
        return _seal(self._secret, value, where, self.max_bytes)

    def loads(self, data: bytes, *, where: str) -> Any:
        """Verify ``data``'s signature, then unpickle it.

        Raises:
            StorageError: ``data`` is not an envelope signed with this secret (it is then
                never unpickled), or unpickling it failed.
        """
        return _open(self._secret, data, where)


class FilesystemIOManager:
    """Large outputs on a volume every worker mounts; Redis holds only a signed reference.

    Each value is written as a signed envelope to its own file under ``base_dir``
    (atomically: a temporary file, then ``os.replace``). ``dumps`` returns the
    reference ``b"fs1:" + hex HMAC of the path + b":" + path relative to base_dir``.

    Files are readable by their owner and group (mode 0640) and are not deleted when
    a run's keys expire; prune ``base_dir`` by age.

    Args:
        base_dir: the shared directory; created if missing.
        secret: the HMAC key; every process of a cluster must share it.
        max_bytes: largest pickle accepted; no limit when ``None``.
    """

    def __init__(self, base_dir: str | Path, secret: bytes, max_bytes: int | None = None) -> None:
        self.base_dir = Path(base_dir).resolve()
        self._secret = _checked_secret(secret)
        self.max_bytes = max_bytes

    def dumps(self, value: Any, *, where: str) -> bytes:
        """Write ``value`` to a new file and return a signed reference to it.

        Raises:
            StorageError: ``value`` cannot be pickled, is too large, or the file cannot
                be written.
        """
        envelope = _seal(self._secret, value, where, self.max_bytes)
        relative = f"{uuid.uuid4().hex}{_FILE_SUFFIX}"
        try:
            self.base_dir.mkdir(parents=True, exist_ok=True)
            _write_atomically(self.base_dir / relative, envelope)
        except OSError as exc:
            raise StorageError(f"cannot write {where} under {self.base_dir}: {exc}") from exc
        path = relative.encode()
        signature = _sign(self._secret, FS_REF_PREFIX + path).hex().encode()
        return FS_REF_PREFIX + signature + b":" + path

    def loads(self, data: bytes, *, where: str) -> Any:
        """Check the reference, read its file and verify the envelope in it.

        Raises:
            OutputNotFound: the reference is valid but its file is gone.
            StorageError: the reference or the file is not signed with this secret, the
                path leaves ``base_dir``, or reading or unpickling failed.
        """
        path = self._path_of(data, where)
        try:
            envelope = path.read_bytes()
        except FileNotFoundError as exc:
            raise OutputNotFound(f"{where} is not on the volume: {path} is missing") from exc
        except OSError as exc:
            raise StorageError(f"cannot read {where} from {path}: {exc}") from exc
        return _open(self._secret, envelope, where)

    def _path_of(self, data: bytes, where: str) -> Path:
        reference = bytes(data)
        if not reference.startswith(FS_REF_PREFIX):
            raise _refused(where, "not a filesystem reference")
        head, sep, relative = reference[len(FS_REF_PREFIX) :].partition(b":")
        if not sep:
            raise _refused(where, "truncated filesystem reference")
        try:
            signature = bytes.fromhex(head.decode("ascii"))
        except ValueError:
            raise _refused(where, "malformed reference signature") from None
        if not verify(self._secret, FS_REF_PREFIX + relative, signature):
            raise _refused(where, "bad reference signature")
        try:
            text = relative.decode()
        except UnicodeDecodeError:
            raise _refused(where, "reference path is not UTF-8") from None
        path = (self.base_dir / text).resolve()
        if Path(text).is_absolute() or not path.is_relative_to(self.base_dir):
            raise StorageError(f"refused: {where} points outside {self.base_dir}: {text!r}")
        return path


def io_manager_from_settings(settings: Settings) -> IOManager:
    """The cluster's IO manager, signed with ``OPGRID_SECRET``: values in Redis, or in
    files under ``OPGRID_OUTPUT_DIR`` (a volume every worker shares) when that is set."""
    secret = settings.secret.get_secret_value().encode()
    if settings.output_dir:
        return FilesystemIOManager(settings.output_dir, secret, settings.max_output_bytes)
    return SignedPickleIOManager(secret, max_bytes=settings.max_output_bytes)


def _seal(secret: bytes, value: Any, where: str, max_bytes: int | None) -> bytes:
    try:
        payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # any error a __reduce__ raises: translated, cause kept
        kind = f"{type(value).__module__}.{type(value).__qualname__}"
        raise StorageError(f"cannot pickle {where} (a {kind}): {exc}") from exc
    if max_bytes is not None and len(payload) > max_bytes:
        raise StorageError(
            f"{where} is too large to store: {len(payload):,} bytes pickled, "
            f"the limit is {max_bytes:,} (OPGRID_MAX_OUTPUT_BYTES)"
        )
    return ENVELOPE_PREFIX + _sign(secret, ENVELOPE_PREFIX + payload) + payload


def _open(secret: bytes, data: bytes, where: str) -> Any:
    envelope = bytes(data)
    header = len(ENVELOPE_PREFIX) + _DIGEST_BYTES
    if not envelope.startswith(ENVELOPE_PREFIX):
        raise _refused(where, "unknown envelope prefix")
    if len(envelope) <= header:
        raise _refused(where, f"truncated envelope of {len(envelope)} bytes")
    signature, payload = envelope[len(ENVELOPE_PREFIX) : header], envelope[header:]
    if not verify(secret, ENVELOPE_PREFIX + payload, signature):
        raise _refused(where, "bad signature")
    try:
        return pickle.loads(payload)
    except Exception as exc:  # signed but unloadable here (e.g. its class is not importable)
        raise StorageError(f"cannot unpickle {where}: {type(exc).__name__}: {exc}") from exc


def _write_atomically(path: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=_FILE_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as file:
            os.fchmod(file.fileno(), _FILE_MODE)
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
