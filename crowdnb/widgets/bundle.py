"""Join the widget's ES modules into the one ES module string anywidget's `_esm` takes.

Hand-written on purpose: no maintained Python library bundles ES modules, and esbuild or rollup
would need Node when the package is installed, while a user installs crowdnb from pip alone. So
the front-end files keep to a small subset of module syntax, which this bundler supports exactly
and nothing more:

- ``import { a, b as c } from "./x.js";`` (named imports, relative specifiers ending in ``.js``);
- ``export function f``, ``export async function f``, ``export class C``, ``export const x =``,
  ``export let x =`` (one name per statement);
- ``export default ...`` in the entry module only.

Each module becomes a function scope that returns its exports, emitted in dependency order (a
cycle is refused); the entry's default export becomes the bundle's default export. Anything
else that looks like module syntax (``export { }``, ``export *``, default or namespace imports,
bare specifiers, ``import()``, ``import.meta``) raises `BundleError` naming the file and line,
so a file that would behave differently bundled and unbundled never ships. The same files load
unbundled in a browser or in Node, since they are standard ES modules.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

IMPORT = re.compile(
    r"""^import[ \t]*\{(?P<names>[^}]*)\}[ \t]*from[ \t]*(?P<q>["'])(?P<spec>[^"']*)(?P=q)[ \t]*;?[ \t]*$""",
    re.M,
)
EXPORT_DECL = re.compile(r"^export[ \t]+(?P<kw>(?:async[ \t]+)?function\*?|class|const|let)[ \t]+(?P<name>[A-Za-z_$][\w$]*)")
EXPORT_DEFAULT = re.compile(r"^export[ \t]+default[ \t]+")
MODULE_WORD = re.compile(r"^[ \t]*(import|export)\b")
DYNAMIC = re.compile(r"\bimport[ \t]*(\(|\.meta\b)")
SPEC = re.compile(r"^\.\.?/[\w./-]+\.js$")
NAME = re.compile(r"^(?P<name>[A-Za-z_$][\w$]*)(?:[ \t\n]+as[ \t\n]+(?P<alias>[A-Za-z_$][\w$]*))?$")


class BundleError(ValueError):
    """A front-end file uses module syntax the bundler does not support (or a bad import)."""


@dataclass
class Module:
    path: str  # relative to the root, with "/" separators
    body: str  # the source with its import statements and export keywords removed
    imports: list[tuple[str, list[tuple[str, str]]]]  # (module path, [(exported name, local name)])
    exports: list[str]
    has_default: bool


def _line_of(source: str, offset: int) -> int:
    return source.count("\n", 0, offset) + 1


def parse(root: Path, path: str) -> Module:
    """Read `root/path` and split it into imports, exports and body; raise `BundleError` on
    syntax outside the supported subset."""
    source = (root / path).read_text(encoding="utf-8")
    imports: list[tuple[str, list[tuple[str, str]]]] = []

    def take_import(match: re.Match[str]) -> str:
        where = f"{path}:{_line_of(source, match.start())}"
        spec = match["spec"]
        if not SPEC.match(spec):
            raise BundleError(f"{where}: import from {spec!r}: only relative paths ending in .js are supported")
        target = posixpath.normpath(posixpath.join(posixpath.dirname(path), spec))
        if target.startswith("../"):
            raise BundleError(f"{where}: import from {spec!r} leaves the static folder")
        names = []
        for part in (p.strip() for p in match["names"].split(",")):
            if not part:
                continue
            named = NAME.match(part)
            if named is None:
                raise BundleError(f"{where}: cannot read the imported name {part!r}")
            names.append((named["name"], named["alias"] or named["name"]))
        imports.append((target, names))
        return "\n" * match.group(0).count("\n")  # keep line numbers

    body = IMPORT.sub(take_import, source)
    exports: list[str] = []
    has_default = False
    lines = body.split("\n")
    for number, line in enumerate(lines, start=1):
        where = f"{path}:{number}"
        if DYNAMIC.search(line) and not line.lstrip().startswith("//"):
            raise BundleError(f"{where}: dynamic import() and import.meta are not supported: {line.strip()!r}")
        if not MODULE_WORD.match(line):
            continue
        declared = EXPORT_DECL.match(line)
        if declared:
            exports.append(declared["name"])
            lines[number - 1] = line[len("export"):].lstrip(" \t")
        elif EXPORT_DEFAULT.match(line):
            if has_default:
                raise BundleError(f"{where}: a second export default")
            has_default = True
            lines[number - 1] = EXPORT_DEFAULT.sub("const __default__ = ", line)
        else:
            raise BundleError(
                f"{where}: unsupported module syntax {line.strip()!r}; use `import {{ a }} from \"./x.js\"`, "
                "`export function/class/const/let NAME`, or `export default` in the entry module"
            )
    duplicate = {name for name in exports if exports.count(name) > 1}
    if duplicate:
        raise BundleError(f"{path}: exported twice: {sorted(duplicate)}")
    return Module(path, "\n".join(lines), imports, exports, has_default)


def modules(root: Path, entry: str) -> list[Module]:
    """The modules `entry` needs, each after the ones it imports; raises on a cycle."""
    ordered: dict[str, Module] = {}
    visiting: list[str] = []

    def visit(path: str) -> None:
        if path in ordered:
            return
        if path in visiting:
            raise BundleError(f"import cycle: {' -> '.join([*visiting[visiting.index(path):], path])}")
        if not (root / path).is_file():
            raise BundleError(f"{visiting[-1] if visiting else 'entry'}: imports {path!r}, which does not exist")
        visiting.append(path)
        module = parse(root, path)
        for target, _ in module.imports:
            visit(target)
        visiting.pop()
        ordered[path] = module

    visit(entry)
    return list(ordered.values())


def _scope_name(path: str) -> str:
    return "__cnb_" + re.sub(r"\W", "_", path.removesuffix(".js"))


def bundle(root: Path, entry: str) -> str:
    """One ES module: every module `entry` imports, in dependency order, then `entry`, whose
    default export is the bundle's default export."""
    found = modules(root, entry)
    by_path = {m.path: m for m in found}
    parts = [f"// crowdnb front end, bundled from {root.name}/ by crowdnb/widgets/bundle.py; edit those files, not this.\n"]
    for module in found:
        if module.has_default and module.path != entry:
            raise BundleError(f"{module.path}: export default is only supported in the entry module {entry}")
        head = []
        for target, names in module.imports:
            missing = [name for name, _ in names if name not in by_path[target].exports]
            if missing:
                raise BundleError(f"{module.path}: {target} does not export {missing}")
            pairs = ", ".join(name if name == local else f"{name}: {local}" for name, local in names)
            head.append(f"const {{ {pairs} }} = {_scope_name(target)};")
        returned = [*module.exports, *(["default: __default__"] if module.has_default else [])]
        parts.append(
            f"// ---- {module.path}\nconst {_scope_name(module.path)} = (() => {{\n"
            + "".join(line + "\n" for line in head)
            + module.body.rstrip("\n")
            + f"\nreturn {{ {', '.join(returned)} }};\n}})();\n"
        )
    if not by_path[entry].has_default:
        raise BundleError(f"{entry}: the entry module needs an export default")
    parts.append(f"export default {_scope_name(entry)}.default;\n")
    return "\n".join(parts)


STATIC = Path(__file__).with_name("static")


@cache
def front_end_module() -> str:
    """The labeling widget's ES module (bundled once per process)."""
    return bundle(STATIC, "shell.js")
