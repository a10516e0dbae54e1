"""The hand-written ES module bundler behind the widget's `_esm`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from test_js_units import node

from crowdnb import kinds
from crowdnb.widgets.bundle import STATIC, BundleError, bundle, front_end_module, modules


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def test_the_bundle_holds_every_view_a_kind_names() -> None:
    paths = [m.path for m in modules(STATIC, "shell.js")]
    index = (STATIC / "views" / "index.js").read_text(encoding="utf-8")
    for name in kinds.names():
        view = kinds.get(name).view
        assert f"views/{view}.js" in paths, f"{name}: view {view!r} is not bundled"
        assert f"import {{ {view} }} from \"./{view}.js\";" in index
    assert paths[-1] == "shell.js" and paths.index("core.js") < paths.index("views/boxes.js")
    source = front_end_module()
    assert source is front_end_module()  # bundled once per process
    assert source.count("export default") == 1 and "innerHTML" not in source


def test_the_bundle_runs_as_one_es_module(tmp_path: Path) -> None:
    (tmp_path / "bundle.mjs").write_text(front_end_module(), encoding="utf-8")
    script = "import(process.argv[1]).then((m) => console.log(JSON.stringify(typeof m.default.render)))"
    result = subprocess.run([node(), "-e", script, str(tmp_path / "bundle.mjs")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == "function"


def test_imports_resolve_in_order_with_aliases(tmp_path: Path) -> None:
    root = write(tmp_path, {
        "a.js": "export const base = 2;\nexport function twice(x) {\n  return x * base;\n}\n",
        "sub/b.js": 'import {\n  twice as double,\n  base,\n} from "../a.js";\nexport class B {\n  get value() { return double(base); }\n}\n',
        "main.js": 'import { B } from "./sub/b.js";\nimport { twice } from "./a.js";\nexport default { value: new B().value + twice(1) };\n',
    })
    source = bundle(root, "main.js")
    assert [m.path for m in modules(root, "main.js")] == ["a.js", "sub/b.js", "main.js"]
    (tmp_path / "out.mjs").write_text(source, encoding="utf-8")
    result = subprocess.run([node(), "-e", "import(process.argv[1]).then((m) => console.log(m.default.value))", str(tmp_path / "out.mjs")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "6"


@pytest.mark.parametrize(
    ("main", "message"),
    [
        ('import x from "./a.js";\nexport default x;\n', "unsupported module syntax"),
        ('import * as a from "./a.js";\nexport default a;\n', "unsupported module syntax"),
        ('import { a } from "lodash";\nexport default a;\n', "only relative paths"),
        ('import { a } from "./a";\nexport default a;\n', "only relative paths"),
        ('const a = 1;\nexport { a };\nexport default a;\n', "unsupported module syntax"),
        ('export * from "./a.js";\nexport default 1;\n', "unsupported module syntax"),
        ('export const { a, b } = {};\nexport default 1;\n', "unsupported module syntax"),
        ('const m = import("./a.js");\nexport default m;\n', "dynamic import"),
        ('import { nothere } from "./a.js";\nexport default nothere;\n', "does not export ['nothere']"),
        ('import { a } from "./missing.js";\nexport default a;\n', "does not exist"),
        ('import { a } from "./a.js";\nexport const b = a;\n', "needs an export default"),
        ('import { loop } from "./loop.js";\nexport default loop;\n', "import cycle"),
    ],
)
def test_unsupported_syntax_is_refused_with_file_and_line(tmp_path: Path, main: str, message: str) -> None:
    root = write(tmp_path, {
        "a.js": "export const a = 1;\n",
        "loop.js": 'import { back } from "./back.js";\nexport const loop = 1;\n',
        "back.js": 'import { loop } from "./loop.js";\nexport const back = loop;\n',
        "main.js": main,
    })
    with pytest.raises(BundleError, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")):
        bundle(root, "main.js")


def test_export_default_outside_the_entry_is_refused(tmp_path: Path) -> None:
    root = write(tmp_path, {"a.js": "export const a = 1;\nexport default 1;\n", "main.js": 'import { a } from "./a.js";\nexport default a;\n'})
    with pytest.raises(BundleError, match="only supported in the entry module main.js"):
        bundle(root, "main.js")
