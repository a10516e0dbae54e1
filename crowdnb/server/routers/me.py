"""Who the caller is."""

from __future__ import annotations

from fastapi import APIRouter

from crowdnb.server import models
from crowdnb.server.deps import Caller
from crowdnb.server.routing import CheckedRoute

router = APIRouter(tags=["me"], route_class=CheckedRoute)


@router.get("/me")
def me(caller: Caller) -> models.Me:
    """The caller's id, name and role, as their token identifies them."""
    return models.Me(id=caller.id, name=caller.name, role=caller.role)
