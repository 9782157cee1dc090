"""What every request of one UI process shares: the cluster, the catalog, the policy."""

from __future__ import annotations

from dataclasses import dataclass

from .auth import AuthPolicy
from .catalog import Catalog
from .cluster import ClusterHandle


@dataclass(frozen=True, slots=True)
class UIState:
    """The UI process's connections and loaded code; nothing about runs is kept here."""

    cluster: ClusterHandle
    catalog: Catalog
    policy: AuthPolicy
