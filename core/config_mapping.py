"""Config mappings: a narrower config that a function turns into the full run config."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .config import ConfigSchema
from .errors import ConfigError
from .types import NO_VALUE


class ConfigMapping:
    """Exposes ``config_schema`` to users and maps its value with ``config_fn``.

    Args:
        config_fn: from the validated outer config to the inner run config.
        config_schema: the schema users fill in.
        description: shown in tooling.
    """

    def __init__(
        self,
        config_fn: Callable[[Any], Any],
        config_schema: Any = None,
        receive_processed_config_values: bool | None = None,
        description: str | None = None,
    ) -> None:
        self.config_fn = config_fn
        self.description = description
        name = getattr(config_fn, "__name__", "config_mapping")
        self.name = name
        self.config_schema = (
            ConfigSchema(config_schema, f"config mapping {name!r}")
            if config_schema is not None
            else None
        )

    @property
    def needs_no_config(self) -> bool:
        """Whether the mapping applies when no config is given (no schema, or defaults)."""
        if self.config_schema is None:
            return True
        return not self.config_schema.validate(NO_VALUE, "")[1]

    def resolve(self, outer: Any, path: str) -> Any:
        """Validate ``outer`` and return the run config the mapping makes of it."""
        value = outer
        if self.config_schema is not None:
            value, problems = self.config_schema.validate(outer, path)
            if problems:
                raise ConfigError(problems)
            value = self.config_schema.instance(value)
        try:
            return self.config_fn(value)
        except Exception as exc:
            raise ConfigError(
                [(path, f"config mapping {self.name!r} raised {type(exc).__name__}: {exc}")]
            ) from exc


def config_mapping(
    config_fn: Callable[[Any], Any] | None = None,
    *,
    config_schema: Any = None,
    receive_processed_config_values: bool | None = None,
) -> Any:
    """Turn a function into a ``ConfigMapping`` (``@config_mapping`` or with arguments)."""

    def wrap(fn: Callable[[Any], Any]) -> ConfigMapping:
        schema = config_schema
        if schema is None:
            schema = _config_class_param(fn)
        return ConfigMapping(fn, schema, receive_processed_config_values)

    return wrap(config_fn) if config_fn is not None else wrap


def _config_class_param(fn: Callable[..., Any]) -> Any:
    import typing

    from .config import Config

    for hint in typing.get_type_hints(fn).values():
        if isinstance(hint, type) and issubclass(hint, Config):
            return hint
    return None
