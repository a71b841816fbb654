"""What a slash command answers: private text for the caller, or a modal to open."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CommandReply:
    """Either private text for the caller, or a modal to open with the command's trigger."""

    text: str = ""
    modal: dict[str, Any] | None = None
