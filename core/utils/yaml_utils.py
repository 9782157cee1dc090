"""YAML loading, at the import path Dagster users know (``utils.yaml_utils``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def load_yaml_from_path(path: str | Path) -> Any:
    """Parse a YAML file safely (no Python object tags)."""
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)
