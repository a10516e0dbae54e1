"""The HTTP server (FastAPI): the shared store for a crowd, with tokens, roles and media."""

from crowdnb.server.app import create_app

__all__ = ["create_app"]
