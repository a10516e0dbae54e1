"""schemathesis fuzzes every operation of the OpenAPI schema: no input makes the server fail."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from crowd import Crowd, make_project


def test_no_input_causes_a_server_error(shared_crowd: Crowd, tmp_path: Path) -> None:
    make_project(shared_crowd, "fuzz")
    for who in ("boss", "ana"):
        command = [
            str(Path(sys.executable).with_name("schemathesis")), "run", f"{shared_crowd.server.url}/openapi.json",
            "--checks", "not_a_server_error", "--max-examples", "10", "--seed", "7",
            "--header", f"Authorization: Bearer {shared_crowd.tokens[who]}", "--request-timeout", "20",
            "--generation-database", "none",
        ]
        run = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=600, stdin=subprocess.DEVNULL)
        assert run.returncode == 0, f"as {who}:\n{run.stdout[-6000:]}\n{run.stderr[-2000:]}"
        assert "passed" in run.stdout.lower()
