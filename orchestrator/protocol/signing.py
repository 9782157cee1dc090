"""HMAC-SHA256 with the cluster's secret (``OPGRID_SECRET``): one signing scheme for
stored outputs (``io_manager``) and for the step requests put on the broker.

Anyone who can write to Redis or to the broker but does not hold the secret can
neither forge an output that a worker would unpickle nor a step request that a
worker would run. Signatures are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from .messages import StepRequest

#: Domain prefix of a step request's signed text, so it can never pass for an output's.
STEP_DOMAIN = b"opgrid.step\x00"
#: One encoder for every signed text (``json.dumps`` with options builds one per call).
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))
#: Field problems named in one refusal line.
_MAX_PROBLEMS = 5
#: Characters of a sent name or identifier quoted in a refusal line.
_MAX_SHOWN = 80


def sign(secret: bytes, message: bytes) -> bytes:
    """The HMAC-SHA256 of ``message`` keyed by ``secret`` (32 bytes)."""
    return hmac.digest(secret, message, hashlib.sha256)


def verify(secret: bytes, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is ``sign(secret, message)``, compared in constant time."""
    return hmac.compare_digest(signature, sign(secret, message))


def _step_text(request: StepRequest) -> bytes:
    """Every identifier of the request, unambiguously (JSON), after the domain prefix."""
    fields = [
        request.schema_version,
        request.run_id,
        request.step_key,
        request.attempt,
        request.job_name,
        request.location,
    ]
    return STEP_DOMAIN + _COMPACT_JSON.encode(fields).encode()


def step_signature(secret: bytes, request: StepRequest) -> str:
    """The hex HMAC of ``request``'s identifiers (its ``signature`` field aside)."""
    return sign(secret, _step_text(request)).hex()


def sign_step(secret: bytes, request: StepRequest) -> StepRequest:
    """``request`` with its ``signature`` set."""
    return request.model_copy(update={"signature": step_signature(secret, request)})


def step_signature_problem(secret: bytes, request: StepRequest) -> str | None:
    """Why ``request`` is not signed by ``secret`` ("missing signature", "bad signature"),
    or None when it is. Never names the secret."""
    if not request.signature:
        return "missing signature"
    try:
        given = bytes.fromhex(request.signature)
    except ValueError:
        return "malformed signature (not hex)"
    if not verify(secret, _step_text(request), given):
        return "bad signature (not signed with this cluster's OPGRID_SECRET)"
    return None


def admit_step(secret: bytes, fields: Mapping[str, Any]) -> StepRequest | str:
    """The step request ``fields`` (a task's kwargs) describe, if they are a valid
    ``StepRequest`` signed with ``secret``; else one line saying what is wrong.

    The line names the bad fields and the signature problem, never the secret nor
    the (possibly huge) values that were sent.
    """
    try:
        request = StepRequest.model_validate(fields)
    except ValidationError as exc:
        return f"not a valid step request: {_problems(exc)}"
    problem = step_signature_problem(secret, request)
    if problem is not None:
        return f"{problem} on the request for run {_short(request.run_id)} step " + _short(
            request.step_key
        )
    return request


def _problems(exc: ValidationError) -> str:
    """``run_id: Field required; extra: Extra inputs are not permitted`` (at most 5)."""
    errors = exc.errors(include_url=False, include_input=False)
    parts = [
        f"{_short('.'.join(str(part) for part in error['loc'])) or '<kwargs>'}: {error['msg']}"
        for error in errors[:_MAX_PROBLEMS]
    ]
    more = len(errors) - _MAX_PROBLEMS
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _short(text: str) -> str:
    """``text`` quoted and escaped for one log line, cut to ``_MAX_SHOWN`` characters."""
    shown = repr(text[:_MAX_SHOWN])
    return shown + f" (cut from {len(text):,} characters)" if len(text) > _MAX_SHOWN else shown
