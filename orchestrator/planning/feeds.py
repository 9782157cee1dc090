"""Where a step input's value comes from while the compiler flattens a job's graphs.

A ``Source`` is an upstream output as a downstream input sees it (dynamic or mapped);
a ``Feed`` is what an input or graph input is bound to (steps, launch inputs, config).
``feed_of`` resolves a graph edge's binding to its feed, and ``mapping_of`` finds the one
dynamic output a step is mapped over, refusing what Dagster refuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opgrid.dependency import Binding, Collect, FanIn, GraphInputRef, Upstream
from opgrid.errors import DagsterInvalidDefinitionError

from .plan import InputKind, OutputRef


@dataclass(frozen=True, slots=True)
class Source:
    """An output as seen from a downstream input while flattening."""

    ref: OutputRef
    is_dynamic: bool
    mapped_by: OutputRef | None


@dataclass(frozen=True, slots=True)
class Feed:
    """Where a graph input's value comes from."""

    kind: InputKind
    sources: tuple[Source, ...] = ()
    run_inputs: tuple[str, ...] = ()
    value: Any = None


def feed_of(
    binding: Binding, produced: dict[tuple[str, str], Source], feeds: dict[str, Feed]
) -> Feed:
    """What an input bound by ``binding`` reads, given the outputs ``produced`` so far in
    its graph (by node and output) and the feeds of the graph's own inputs."""
    if isinstance(binding, Upstream):
        return Feed("from_step", (produced[(binding.node, binding.output)],))
    if isinstance(binding, Collect):
        return Feed("collect", (produced[(binding.node, binding.output)],))
    if isinstance(binding, GraphInputRef):
        return feeds.get(binding.name, Feed("none", run_inputs=(binding.name,)))
    sources: list[Source] = []
    run_inputs: list[str] = []
    assert isinstance(binding, FanIn)
    for item in binding.items:
        if isinstance(item, Upstream):
            sources.append(produced[(item.node, item.output)])
        elif item.name in feeds:
            sources.extend(feeds[item.name].sources)
            run_inputs.extend(feeds[item.name].run_inputs)
    return Feed("fan_in", tuple(sources), tuple(run_inputs))


def mapping_of(key: str, name: str, feed: Feed, current: OutputRef | None) -> OutputRef | None:
    """The dynamic output a step is mapped over, checking it is at most one."""
    if feed.kind == "collect":
        source = feed.sources[0]
        if not source.is_dynamic and source.mapped_by is None:
            raise DagsterInvalidDefinitionError(
                f"input {name!r} of op {key!r} collects {source.ref.step}.{source.ref.output}, "
                "which is not a dynamic or mapped output"
            )
        return current
    for source in feed.sources:
        found = source.ref if source.is_dynamic else source.mapped_by
        if found is None:
            continue
        if feed.kind == "fan_in":
            raise DagsterInvalidDefinitionError(
                f"input {name!r} of op {key!r} fans in a dynamic output; use .collect()"
            )
        if current is not None and current != found:
            raise DagsterInvalidDefinitionError(
                f"op {key!r} is mapped over two different dynamic outputs "
                f"({current.step}.{current.output} and {found.step}.{found.output})"
            )
        current = found
    return current
