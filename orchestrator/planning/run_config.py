"""The run config a run actually uses: job defaults, config mappings and partitions applied.

Also checks the parts of a run config that belong to no op: its top-level keys
and the ``resources`` section.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opgrid.config_problems import did_you_mean, unexpected_key
from opgrid.context import PARTITION_TAG
from opgrid.errors import ConfigError, DagsterInvariantViolationError
from opgrid.job import JobDefinition
from opgrid.resource import resource_closure
from opgrid.types import NO_VALUE

#: Top-level keys a run config may have.
TOP_LEVEL_KEYS = frozenset({"ops", "resources", "execution", "loggers", "inputs"})
_PASS_THROUGH = ("resources", "execution", "loggers")


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` laid over ``base``; nested dicts merge key by key."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def effective_run_config(
    job: JobDefinition, run_config: Any, partition_key: str | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """(the run config after defaults/mapping/partition, tags the partition adds)."""
    if run_config is None:
        run_config = {}
    if not isinstance(run_config, Mapping):
        raise ConfigError([("", f"run config must be a dict, got {type(run_config).__name__}")])
    if partition_key is not None:
        return _partitioned(job, run_config, partition_key)
    if job.config_mapping is not None:
        outer = {k: v for k, v in run_config.items() if k not in _PASS_THROUGH}
        mapped = job.config_mapping.resolve(outer, "")
        if not isinstance(mapped, Mapping):
            raise ConfigError([("", f"config mapping returned {mapped!r}, not a run config dict")])
        passed = {k: run_config[k] for k in _PASS_THROUGH if k in run_config}
        return deep_merge(mapped, passed), {}
    if job.partitioned_config is not None and not run_config:
        raise ConfigError(
            [("partition_key", f"job {job.name!r} is partitioned: give a partition_key")]
        )
    return lay_over_defaults(job.default_run_config, run_config), {}


def lay_over_defaults(defaults: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """A job's default run config with launch config laid over it, one node or resource
    entry at a time: a launch entry for ``ops.X`` replaces the default entry for ``X``."""
    merged = dict(defaults)
    for key, value in given.items():
        default = merged.get(key)
        if (
            key in ("ops", "resources")
            and isinstance(value, Mapping)
            and isinstance(default, Mapping)
        ):
            merged[key] = {**default, **value}
        else:
            merged[key] = value
    return merged


def _partitioned(
    job: JobDefinition, run_config: Mapping[str, Any], key: str
) -> tuple[dict[str, Any], dict[str, str]]:
    partitioned = job.partitioned_config
    if partitioned is None:
        raise DagsterInvariantViolationError(
            f"job {job.name!r} has no partitioned config, so partition_key={key!r} means nothing"
        )
    base = partitioned.get_run_config_for_partition_key(key)
    tags = {**partitioned.get_tags_for_partition_key(key), PARTITION_TAG: key}
    return deep_merge(base, run_config), tags


def check_top_level(run_config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Problems with keys that no part of the job reads."""
    return [
        (str(key), unexpected_key(str(key), TOP_LEVEL_KEYS, "top-level key"))
        for key in run_config
        if key not in TOP_LEVEL_KEYS
    ]


def resolve_resources(
    job: JobDefinition, section: Any, problems: list[tuple[str, str]]
) -> tuple[list[str], dict[str, Any]]:
    """(keys to build, dependencies first; their validated config), problems appended."""
    keys = resource_closure(job.resource_defs, job.required_resource_keys())
    if section is None:
        section = {}
    if not isinstance(section, Mapping):
        problems.append(("resources", f"must be a dict, got {section!r}"))
        return keys, {}
    problems.extend(
        (
            f"resources.{key}",
            f"job {job.name!r} has no resource {key!r}: {did_you_mean(key, job.resource_defs)}",
        )
        for key in section
        if key not in job.resource_defs
    )
    configs: dict[str, Any] = {}
    for key in keys:
        schema = job.resource_defs[key].config_schema
        entry = section.get(key) or {}
        raw = entry.get("config", NO_VALUE) if isinstance(entry, Mapping) else NO_VALUE
        if schema is None:
            if raw is not NO_VALUE:
                configs[key] = raw
            continue
        value, found = schema.validate(raw, f"resources.{key}.config")
        problems.extend(found)
        configs[key] = value
    return keys, configs
