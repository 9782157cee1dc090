"""Op outputs on the cluster: ``RedisOutputStore``, values signed by the IO manager and
kept with the run's keys (``RedisRunStore.commit_step``, ``load_outputs``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opgrid.errors import OutputNotFound
from opgrid.orchestrator.planning.state import ValueRef
from opgrid.orchestrator.protocol.step_keys import mapping_suffix

from .envelopes import IOManager

if TYPE_CHECKING:
    from .redis import RedisRunStore


class RedisOutputStore:
    """The ``OutputStore`` of a cluster: values signed by the IO manager, in Redis."""

    def __init__(self, store: RedisRunStore, io: IOManager) -> None:
        self._store = store
        self._io = io

    def put(self, run_id: str, ref: ValueRef, value: Any) -> None:
        data = self._io.dumps(value, where=_where(ref))
        self._store.commit_step(run_id, [(ref, data)], [])

    def get(self, run_id: str, ref: ValueRef) -> Any:
        (data,) = self._store.load_outputs(run_id, [ref])
        if data is None:
            raise OutputNotFound(f"run {run_id}: {_where(ref)} is not in storage (expired?)")
        return self._io.loads(data, where=_where(ref))

    def has(self, run_id: str, ref: ValueRef) -> bool:
        return self._store.has_output(run_id, ref)


def _where(ref: ValueRef) -> str:
    return f'output "{ref.output}" of step "{ref.step_key}{mapping_suffix(ref.mapping_key)}"'
