"""What a package lists for others to use, imported only when first used (PEP 562).

A role package's ``__init__`` names its public names and the module each comes
from; ``import opgrid.orchestrator.store`` then costs nothing, and reading
``store.RedisRunStore`` imports ``store.redis`` (and so redis-py) on first use. In-process
execution goes through ``client`` and ``store`` without loading Redis or Celery.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``exports[name]`` on demand.

    Args:
        package: the package's ``__name__``.
        exports: public name -> the package's module that defines it (``"redis"``).
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    return __getattr__
