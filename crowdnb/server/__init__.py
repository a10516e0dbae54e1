"""The HTTP server (FastAPI): the shared store for a crowd, with tokens, roles and media.

`create_app` is imported on first use, so `crowdnb.server.limits` (which `crowdnb --help` reads)
loads without the server extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crowdnb.server.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from crowdnb.server.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
