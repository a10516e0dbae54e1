"""The server's shape: its OpenAPI operations are a decision, and it imports only what the
`server` extra and the base dependencies install."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import crowdnb.server
from crowdnb.server.app import create_app

OPERATIONS = [
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/me/balance"),
    ("GET", "/api/v1/payouts"),
    ("GET", "/api/v1/projects"),
    ("GET", "/api/v1/projects/{project}"),
    ("GET", "/api/v1/projects/{project}/escalated"),
    ("GET", "/api/v1/projects/{project}/export"),
    ("GET", "/api/v1/projects/{project}/labels"),
    ("GET", "/api/v1/projects/{project}/my-labels"),
    ("GET", "/api/v1/projects/{project}/progress"),
    ("GET", "/api/v1/projects/{project}/results"),
    ("GET", "/api/v1/projects/{project}/results/stored"),
    ("GET", "/api/v1/projects/{project}/tasks"),
    ("GET", "/api/v1/projects/{project}/tasks/{task_id}/media"),
    ("GET", "/api/v1/projects/{project}/workers"),
    ("GET", "/api/v1/workers/{name}"),
    ("POST", "/api/v1/projects"),
    ("POST", "/api/v1/projects/{project}/claim"),
    ("POST", "/api/v1/projects/{project}/escalated/{task}"),
    ("POST", "/api/v1/projects/{project}/members"),
    ("POST", "/api/v1/projects/{project}/renew"),
    ("POST", "/api/v1/projects/{project}/results"),
    ("POST", "/api/v1/projects/{project}/reviews/claim"),
    ("POST", "/api/v1/projects/{project}/reviews/{annotation_id}"),
    ("POST", "/api/v1/projects/{project}/skip"),
    ("POST", "/api/v1/projects/{project}/submit"),
    ("POST", "/api/v1/projects/{project}/submit-and-claim"),
    ("POST", "/api/v1/projects/{project}/submit-many"),
    ("POST", "/api/v1/projects/{project}/tasks"),
    ("PUT", "/api/v1/projects/{project}/quality"),
    ("PUT", "/api/v1/projects/{project}/review"),
    ("PUT", "/api/v1/projects/{project}/workers/{worker_id}/status"),
]
# Top-level packages the server's modules may import: the `server` extra, the base dependencies
# it uses, and crowdnb itself (the standard library is allowed too).
ALLOWED = {"crowdnb", "fastapi", "pydantic", "starlette", "uvicorn", "pandas", "sqlalchemy"}


def test_the_openapi_operations_are_pinned(tmp_path: Path) -> None:
    schema = create_app(f"sqlite:///{tmp_path / 's.sqlite'}", tmp_path).openapi()
    operations = sorted((method.upper(), path) for path, item in schema["paths"].items() for method in item)
    assert operations == OPERATIONS


def test_every_operation_is_described(tmp_path: Path) -> None:
    schema = create_app(f"sqlite:///{tmp_path / 's.sqlite'}", tmp_path).openapi()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            assert operation.get("description") and operation.get("tags"), (method, path)


def test_server_modules_import_only_the_server_extra_at_import_time() -> None:
    for module in Path(crowdnb.server.__file__).parent.rglob("*.py"):
        tree = ast.parse(module.read_text())
        assert ast.get_docstring(tree), module
        for node in tree.body:  # module level only: what `import` runs
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in ALLOWED or top in sys.stdlib_module_names, (module.name, name)
