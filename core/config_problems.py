"""Config problems in Dagster's words, with the nearest valid key for a misspelt one.

``problem`` turns one pydantic error into a ``(dotted path, message)`` pair whose
message starts the way Dagster 1.13 starts it (``Received unexpected config entry
"b"``, ``Missing required config entry "a"``, ``Invalid scalar: ...``); for an
unexpected entry it then names the entries that would have been valid, and the
closest one (``did you mean "threshold"?``). ``unexpected_key`` words the same
hint for the keys opgrid checks itself (run config sections, resources, nodes).
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

#: One validation problem: (dotted path, message).
ConfigProblem = tuple[str, str]

#: How alike a key must be to a valid one to be suggested (difflib's ratio).
_CLOSE_ENOUGH = 0.6


def did_you_mean(key: str, valid: Iterable[str]) -> str:
    """``did you mean "threshold"? Valid: "threshold", "window"`` (no guess when none is
    close; ``nothing is valid here`` when ``valid`` is empty)."""
    choices = sorted(str(choice) for choice in valid)
    if not choices:
        return "nothing is valid here"
    listed = ", ".join(f'"{choice}"' for choice in choices)
    # a key of a malformed config may be any YAML scalar (an int, None): compare its text
    close = difflib.get_close_matches(str(key), choices, n=1, cutoff=_CLOSE_ENOUGH)
    if close:
        return f'did you mean "{close[0]}"? Valid: {listed}'
    return f"valid: {listed}"


def unexpected_key(key: str, valid: Iterable[str], what: str = "key") -> str:
    """``unexpected key "thresold": did you mean "threshold"? Valid: ...``."""
    return f'unexpected {what} "{key}": {did_you_mean(key, valid)}'


def problem(path: str, err: Mapping[str, Any], annotation: Any) -> ConfigProblem:
    """One pydantic error of a value validated against ``annotation``, in Dagster's words."""
    loc = ".".join(str(part) for part in err["loc"] if not _is_internal_loc(part))
    full = f"{path}.{loc}" if path and loc else (path or loc)
    kind = err["type"]
    key = str(err["loc"][-1]) if err["loc"] else ""
    if kind == "missing":
        return full, f'Missing required config entry "{key}": required field is missing'
    if kind == "extra_forbidden":
        valid = keys_at(annotation, tuple(err["loc"][:-1]))
        hint = f": {did_you_mean(key, valid)}" if valid is not None else ""
        return full, f'Received unexpected config entry "{key}" (not in the schema){hint}'
    scalar = _DAGSTER_SCALARS.get(kind)
    if scalar is not None:
        value = err.get("input")
        return full, (
            f'Invalid scalar: Value "{value}" of type "{type(value)}" is not valid for expected '
            f'type "{scalar}".'
        )
    if kind == "value_error" and "not in enum type" in str(err.get("msg", "")):
        return full, str(err["msg"]).removeprefix("Value error, ")
    return full, f"{err['msg']} (got {err.get('input')!r})"


def keys_at(annotation: Any, loc: tuple[Any, ...]) -> list[str] | None:
    """The config keys of the model that ``loc`` leads to inside ``annotation`` (None when
    it does not lead to a model, e.g. through a type pydantic builds on the fly)."""
    current: Any = annotation
    for part in loc:
        if _is_internal_loc(part):
            continue
        current = _inside(current, part)
        if current is None:
            return None
    model = _model_of(current)
    if model is None:
        return None
    return [info.alias or name for name, info in model.model_fields.items()]


def _inside(annotation: Any, part: Any) -> Any:
    """The type of item ``part`` (a field key, list index or map key) of ``annotation``."""
    model = _model_of(annotation)
    if model is not None:
        for name, info in model.model_fields.items():
            if part in (name, info.alias):
                return info.annotation
        return None
    args = [arg for arg in typing.get_args(_bare(annotation)) if arg is not type(None)]
    origin = typing.get_origin(_bare(annotation))
    if origin is list and isinstance(part, int) and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model ``annotation`` is (through ``Annotated`` and ``Optional``), if any."""
    bare = _bare(annotation)
    if isinstance(bare, type) and issubclass(bare, BaseModel):
        return bare
    if typing.get_origin(bare) not in (typing.Union, types.UnionType):
        return None
    models = [
        arg for arg in typing.get_args(bare) if isinstance(arg, type) and issubclass(arg, BaseModel)
    ]
    return models[0] if len(models) == 1 else None


def _bare(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


#: pydantic error types of scalar mismatches, and Dagster's name of the expected type
_DAGSTER_SCALARS = {
    "int_type": "Int",
    "int_parsing": "Int",
    "int_from_float": "Int",
    "string_type": "String",
    "bool_type": "Bool",
    "bool_parsing": "Bool",
    "float_type": "Float",
    "float_parsing": "Float",
}


def _is_internal_loc(part: Any) -> bool:
    return isinstance(part, str) and (part.startswith("function-") or part in _INTERNAL_LOCS)


_INTERNAL_LOCS = {"str", "int", "float", "bool", "list[any]", "dict[str,any]", "none"}
