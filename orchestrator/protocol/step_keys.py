"""Step keys of mapped copies and labels of outputs: built and split in one place.

A step key is Dagster's node handle path (``outer_graph.add_one``). A step mapped
over a dynamic output runs once per mapping key, as ``template[mapping_key]``
(``process[a]``); an output of one copy is labelled ``step.output[mapping_key]``.
"""

from __future__ import annotations

#: Opens the mapping key of a mapped copy's step key.
_OPEN = "["


def mapped_key(template: str, mapping_key: str) -> str:
    """The step key of ``template``'s copy for ``mapping_key``: ``template[mapping_key]``."""
    return f"{template}{_OPEN}{mapping_key}]"


def template_of(step_key: str) -> str:
    """The template a copy was made from (``process[a]`` -> ``process``); a plain key as is."""
    return step_key.split(_OPEN, 1)[0]


def is_copy_of(step_key: str, template: str) -> bool:
    """Whether ``step_key`` is one of ``template``'s mapped copies."""
    return step_key.startswith(template + _OPEN)


def mapping_suffix(mapping_key: str | None) -> str:
    """``[mapping_key]`` for a mapped value, nothing for a plain one."""
    return "" if mapping_key is None else f"{_OPEN}{mapping_key}]"


def output_label(step_key: str, output: str, mapping_key: str | None = None) -> str:
    """How an output is named in messages: ``step.output`` or ``step.output[key]``."""
    return f"{step_key}.{output}{mapping_suffix(mapping_key)}"
