"""The README's Python examples run as printed (the cluster ones on a real cluster)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def run_block(block: str, namespace: dict[str, Any]) -> None:
    exec(compile(block, str(README), "exec"), namespace)


def test_every_in_process_example_of_the_readme_runs():
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    blocks = [b for b in readme_blocks() if "opgrid.submit" not in b]
    assert len(blocks) >= 2
    for block in blocks:
        run_block(block, namespace)


@pytest.mark.integration
def test_the_cluster_example_of_the_readme_runs(session_cluster, monkeypatch):
    settings = session_cluster.settings
    monkeypatch.setenv("OPGRID_REDIS_URL", settings.redis_url)
    monkeypatch.setenv("OPGRID_NAMESPACE", settings.namespace)
    monkeypatch.setenv("OPGRID_SECRET", settings.secret.get_secret_value())
    monkeypatch.setenv("OPGRID_DEFAULT_QUEUE", settings.default_queue)
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    blocks = readme_blocks()
    cluster_blocks = [b for b in blocks if "opgrid.submit" in b]
    assert cluster_blocks
    for block in blocks:
        if block in cluster_blocks:
            session_cluster.app.opgrid_locations.register(namespace["first_job"])
        run_block(block, namespace)
