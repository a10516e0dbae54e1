"""Errors crowdnb raises: each names what was wrong (row, field, value) so it can be fixed."""

from __future__ import annotations

from dataclasses import dataclass


class CrowdnbError(Exception):
    """Base class of crowdnb's own errors."""


class NotFound(CrowdnbError, LookupError):
    """A project, task or worker that does not exist."""


class Forbidden(CrowdnbError, PermissionError):
    """Not allowed for this worker (e.g. inspecting one's own work)."""


class Conflict(CrowdnbError):
    """The request contradicts what is already stored (e.g. a project with another kind)."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input row."""

    row: object
    field: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row!r}, field {self.field!r}: {self.message}"


class ValidationError(CrowdnbError, ValueError):
    """Input rejected as a whole; `problems` lists every offending row and field."""

    def __init__(self, problems: list[Problem], *, shown: int = 20) -> None:
        self.problems = problems
        lines = [str(p) for p in problems[:shown]]
        if len(problems) > shown:
            lines.append(f"... and {len(problems) - shown} more")
        super().__init__(f"{len(problems)} problem(s), nothing was stored:\n  " + "\n  ".join(lines))


class SourceUnavailable(CrowdnbError, ConnectionError):
    """The store cannot be reached right now (e.g. the server is down); try again later."""


def check_name(name: object, what: str) -> str:
    """A project's or worker's name as given, if it can name it everywhere (a path segment of the
    server's URLs included); ValueError says what is wrong otherwise."""
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ValueError(f"a {what} name is 1 to 200 characters, not only spaces; got {name!r}")
    if name in (".", "..") or "/" in name or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ValueError(f"a {what} name has no '/' or control characters and is not '.' or '..'; got {name!r}")
    return name


class LabelError(CrowdnbError, ValueError):
    """A label that does not fit its project's schema."""


class MissingExtra(CrowdnbError, ImportError):
    """A feature whose optional dependencies are not installed; names the `pip install` to run."""

    def __init__(self, feature: str, extra: str, missing: str) -> None:
        self.extra = extra
        super().__init__(f'{feature} needs {missing}, which is not installed: pip install "crowdnb[{extra}]"')


def require(module: str, *, feature: str, extra: str) -> object:
    """Import an optional dependency, or raise `MissingExtra` naming the extra to install."""
    from importlib import import_module

    try:
        return import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == module.split(".")[0]:
            raise MissingExtra(feature, extra, module) from None
        raise
