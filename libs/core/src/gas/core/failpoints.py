"""Crash injection for fault tests: `GAS_FAILPOINTS=archive.after_copy,...` makes the
process die (as a SIGKILL would) when it reaches that point. Honoured only in the
local and dev environments; production ignores it."""

from __future__ import annotations

import os


def hit(name: str) -> None:
    if os.environ.get("GAS_ENV") not in ("local", "dev"):
        return
    if name in os.environ.get("GAS_FAILPOINTS", "").split(","):
        os._exit(137)
