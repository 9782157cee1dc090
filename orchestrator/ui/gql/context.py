"""What a resolver reads from the request's context: the server's ``UIState``."""

from __future__ import annotations

from typing import Any

from strawberry.types import Info

from ..state import UIState


def ui_state(info: Info[Any, Any]) -> UIState:
    """The UI state the server put in the context of every request."""
    state: UIState = info.context["ui"]
    return state
