"""Crash injection for fault tests: `GAS_FAILPOINTS=archive.after_copy,...` makes the
process die (as a SIGKILL would) when it reaches that point. Honoured only in the
local and dev environments; production ignores it.

In-process tests may instead install a hook (`set_hook`) that runs at every point, to
pause there and interleave another flow deterministically."""

from __future__ import annotations

import os
from collections.abc import Callable

_hook: Callable[[str], None] | None = None


def set_hook(hook: Callable[[str], None] | None) -> None:
    global _hook
    _hook = hook


def hit(name: str) -> None:
    if _hook is not None:
        _hook(name)
    if os.environ.get("GAS_ENV") not in ("local", "dev"):
        return
    if name in os.environ.get("GAS_FAILPOINTS", "").split(","):
        os._exit(137)
