"""Projects: creating them, their settings (quality policy, inspection), members, results."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pandas as pd
from fastapi import APIRouter, HTTPException
from fastapi.responses import StreamingResponse

from crowdnb import kinds
from crowdnb.quality.rules import QualityPolicy
from crowdnb.server import models
from crowdnb.server.deps import Caller, ProjectCaller, StoreDep, member_project, require, streamed
from crowdnb.server.routing import CheckedRoute
from crowdnb.store import ProjectInfo, SqlStore

router = APIRouter(prefix="/projects", tags=["projects"], route_class=CheckedRoute)


@router.get("")
def list_projects(store: StoreDep, caller: Caller) -> list[str]:
    """The names of the projects the caller can open: all of them for a manager, else the
    caller's own."""
    return store.project_names() if caller.role == "manager" else store.member_projects(caller.id)


@router.post("")
def create_project(store: StoreDep, caller: Caller, body: models.NewProject) -> ProjectInfo:
    """Create a project of a task kind, with its options, price, overlap, inspection rate and
    quality policy (managers only)."""
    require(caller, "manager")
    config = kinds.get(body.kind).configure(body.options)
    info = store.create_project(
        body.name, body.kind, config, overlap=body.overlap, price=body.price, lease_seconds=body.lease_seconds,
        quality=_policy(body.quality),
        review_rate=body.review_rate, review_window_seconds=body.review_window_seconds,
    )
    return info


@router.get("/{project}")
def get_project(store: StoreDep, access: ProjectCaller, project: str) -> ProjectInfo:
    """A project's kind, configuration, overlap and price, for its members; its quality policy
    and inspection settings for managers only (a worker who knew the too-fast threshold or the
    control rate could game them)."""
    info = store.project(member_project(access, project, "worker", "inspector", "manager").name)
    return info if access.account.role == "manager" else replace(info, quality=None, review_rate=0.0, review_window_seconds=None)


@router.put("/{project}/quality")
def set_quality(store: StoreDep, access: ProjectCaller, project: str, body: models.QualityIn) -> ProjectInfo:
    """Set the project's quality policy, or none (managers only)."""
    info = member_project(access, project, "manager")
    store.set_quality(info.id, _policy(body.policy))
    return store.project(info.name)


@router.put("/{project}/review")
def set_review(store: StoreDep, access: ProjectCaller, project: str, body: models.ReviewIn) -> ProjectInfo:
    """Set the share of new labels sent to inspectors and the review window (managers only)."""
    info = member_project(access, project, "manager")
    store.set_review(info.id, body.rate, body.window_seconds)
    return store.project(info.name)


@router.post("/{project}/members")
def add_member(store: StoreDep, access: ProjectCaller, project: str, body: models.Member) -> models.Me:
    """Let a worker or inspector into the project (managers only)."""
    info = member_project(access, project, "manager")
    store.add_member(info.id, body.worker)
    account = store.account(body.worker)
    return models.Me(id=account.id, name=account.name, role=account.role)


@router.get("/{project}/results", response_model=list[dict[str, Any]])
def results(
    store: StoreDep, access: ProjectCaller, project: str, method: str | None = None, include_flagged: bool = False,
    params: str = "{}",
) -> StreamingResponse:
    """One answer per task with its confidence, by the kind's aggregation method or `method`;
    `params` is a JSON object of the method's parameters (managers only). Streamed as encoded."""
    info = member_project(access, project, "manager")
    return streamed([_aggregated(store, info.id, method, include_flagged, _params(params), keep=False)])


@router.post("/{project}/results", response_model=models.ResultRun)
def store_results(store: StoreDep, access: ProjectCaller, project: str, body: models.ResultsIn) -> models.ResultRun:
    """Aggregate as `GET results` does and keep the answers as the project's last results
    (managers only); answers how they were made, not the rows (`GET results/stored` has them)."""
    info = member_project(access, project, "manager")
    found = _aggregated(store, info.id, body.method, body.include_flagged, body.params, keep=True)
    return models.ResultRun(n_tasks=len(found), n_labels=int(found["n_labels"].sum()), **found.attrs)


@router.get("/{project}/results/stored", response_model=list[dict[str, Any]])
def stored_results(store: StoreDep, access: ProjectCaller, project: str) -> StreamingResponse:
    """The project's last stored results in task order (managers only); the response's
    headers tell how and when they were made (`X-Crowdnb-Results`: JSON)."""
    info = member_project(access, project, "manager")
    found = store.stored_results(info.id)
    run = models.ResultRun(n_tasks=len(found), **found.attrs)
    response = streamed([found])
    response.headers["X-Crowdnb-Results"] = run.model_dump_json()
    return response


@router.get("/{project}/escalated", response_model=list[dict[str, Any]])
def escalated(store: StoreDep, access: ProjectCaller, project: str) -> list[dict[str, Any]]:
    """Tasks dynamic overlap sent to an inspector instead of closing them with a doubtful
    answer, with the votes of the labels that count (inspectors and managers)."""
    info = member_project(access, project, "inspector", "manager")
    return store.escalated(info.id).to_dict("records")


@router.post("/{project}/escalated/{task:path}")
def resolve(store: StoreDep, access: ProjectCaller, project: str, task: str, body: models.Resolution) -> models.Added:
    """Decide a task sent to an inspector: the label becomes its result (inspectors and
    managers). Deciding it again replaces the answer."""
    info = member_project(access, project, "inspector", "manager")
    store.resolve(info.id, task, body.label)
    return models.Added(added=1)


def _aggregated(store: SqlStore, project_id: int, method: str | None, include_flagged: bool, params: dict[str, Any], *, keep: bool) -> pd.DataFrame:
    try:
        return store.results(project_id, method, include_flagged=include_flagged, store=keep, **params)
    except TypeError as exc:  # a parameter the method does not take
        raise HTTPException(422, str(exc)) from None


def _params(text: str) -> dict[str, Any]:
    """A method's parameters from their JSON text; 422 unless it is an object."""
    try:
        options = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HTTPException(422, f"params must be a JSON object: {exc}") from None
    if not isinstance(options, dict):
        raise HTTPException(422, "params must be a JSON object")
    return options


def _policy(body: dict[str, Any] | None) -> QualityPolicy | None:
    """A quality policy from its JSON form, or None."""
    return None if body is None else QualityPolicy.from_dict(body)
