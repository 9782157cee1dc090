"""The one place that talks to Redis: run storage behind role-sized protocols.

``base`` (the protocols), ``keys`` (every key, and the schema), ``scripts`` (the
Lua), ``connect`` (clients, safe URLs, error translation; ``sentinel`` and
``redis_cluster`` for their URLs), ``redis`` with ``attempts``, ``step_logs``, ``leases``,
``outputs``, ``registry``, ``prune``, ``ticks``, ``redis_turns`` (a coordinator turn's
work in bulk; ``turns`` holds its values) and ``cluster_wait`` (the Redis store;
``tick_records`` and ``tick_updates`` hold what is recorded about schedules, sensors
and backfills, and the rules of its updates), ``memory`` with ``memory_logs``,
``memory_leases``, ``memory_registry`` and ``memory_ticks`` (the in-memory twins),
``envelopes`` (signed output envelopes). Stores are built at the entry points and passed
in. Names load on first use (``..exports``).
"""

from opgrid.orchestrator.exports import lazy_exports

_EXPORTS = {
    "Attempts": "base",
    "OutputStore": "base",
    "Outputs": "base",
    "Progress": "base",
    "Pruning": "base",
    "Registry": "base",
    "RunLog": "base",
    "RunStore": "base",
    "StepLogs": "base",
    "StepStore": "base",
    "Ticks": "base",
    "Keys": "keys",
    "connect": "connect",
    "safe_url": "connect",
    "RedisOutputStore": "outputs",
    "RedisRunStore": "redis",
    "InMemoryOutputStore": "memory",
    "InMemoryRunStore": "memory",
    "IOManager": "envelopes",
    "io_manager_from_settings": "envelopes",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
