"""Keeping secrets out of pages and API answers.

Config values under a key that looks secret (``password``, ``token``, ``api_key``...)
are shown as ``***``; any string that is a URL with a password has it masked
(``redis://:***@host``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .cluster import safe_url

#: What is shown instead of a secret value.
MASK = "***"
#: Key names (any part of them) whose values are secrets.
_SECRET_KEY = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|private[_-]?key|credential|auth|session|cookie)",
    re.IGNORECASE,
)
_URL_WITH_CREDENTIALS = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@\s]*:[^/@\s]*@")


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key))


def redacted(value: Any) -> Any:
    """``value`` (config, tags) with secret-looking entries masked, recursively."""
    if isinstance(value, Mapping):
        return {
            key: (MASK if is_secret_key(str(key)) and item is not None else redacted(item))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redacted(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_text(text: str) -> str:
    """``text`` with the password of a URL it holds masked."""
    if "://" in text and ("@" in text or "password=" in text.lower()):
        return safe_url(text)
    return text


def has_credentials(text: str) -> bool:
    return bool(_URL_WITH_CREDENTIALS.match(text))
