"""Rules the package's code keeps, read from its source: every error it raises belongs to its
error family, and imports follow the layer order."""

import ast
import importlib
from pathlib import Path

import pytest

import gansearch
from gansearch.errors import GansearchError

PACKAGE = Path(gansearch.__file__).parent
SOURCES = sorted(PACKAGE.rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


# Python protocols, not errors: a module's __getattr__ says AttributeError; a script exits.
PROTOCOL = {"AttributeError": "__getattr__", "SystemExit": "__main__"}


def _raised_names(tree: ast.AST):
    """(line, name) of every ``raise Name(...)`` / ``raise Name`` outside its protocol place
    (``PROTOCOL``); re-raises and ``raise exc`` of a caught variable construct nothing."""
    places = {}  # id(raise node) -> the function or block it is in
    for scope in ast.walk(tree):
        if isinstance(scope, ast.FunctionDef):
            places.update({id(n): scope.name for n in ast.walk(scope)})
        elif isinstance(scope, ast.If) and "__main__" in ast.unparse(scope.test):
            places.update({id(n): "__main__" for n in ast.walk(scope)})
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            name = exc.id if isinstance(exc, ast.Name) else exc.attr if isinstance(exc, ast.Attribute) else ""
            if name[:1].isupper() and PROTOCOL.get(name) != places.get(id(node)):
                yield node.lineno, name


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_raised_error_is_in_the_family(path):
    module = importlib.import_module(_module_name(path))
    outside = []
    for line, name in _raised_names(ast.parse(path.read_text())):
        cls = getattr(module, name, None) or getattr(__import__("builtins"), name, None)
        if not (isinstance(cls, type) and issubclass(cls, GansearchError)):
            outside.append(f"line {line}: {name}")
    assert not outside, f"{path.name} raises errors outside GansearchError: {outside}"


# The layers, lowest first: a module imports from its own layer and those below, never above.
LAYERS = [
    ("errors", "config"),
    ("models", "data", "metrics"),
    ("train",),
    ("families", "checkpoint"),  # a checkpoint is a family's generator, rebuilt by its family
    ("compress",),
    ("search",),
    ("report", "export"),
    ("cli",),
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def _imports(path: Path):
    """(line, imported gansearch module) for every import in ``path``, lazy ones included."""
    module = _module_name(path)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, a.name) for a in node.names if a.name.startswith("gansearch"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing package
                parent = module.split(".")[: -node.level] if path.name != "__init__.py" else \
                    module.split(".")[: len(module.split(".")) - node.level + 1]
                base = ".".join([*parent, base]) if base else ".".join(parent)
            if base.startswith("gansearch"):
                for a in node.names:  # `from gansearch import families` imports the subpackage
                    yield node.lineno, f"{base}.{a.name}" if base == "gansearch" else base


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RANK else None


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_layer_order(path):
    own = _layer(_module_name(path))
    if own is None:  # gansearch/__init__.py: the package's lazy front door
        return
    upward = [f"line {line}: {target}" for line, target in _imports(path)
              if _layer(target) is not None and RANK[_layer(target)] > RANK[own]]
    assert not upward, f"{path.relative_to(PACKAGE)} ({own}) imports from a higher layer: {upward}"


def test_every_package_has_a_layer():
    packages = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in SOURCES} - {"__init__"}
    assert packages <= set(RANK), f"place {sorted(packages - set(RANK))} in LAYERS"


def _top_level_imports(path: Path):
    """The gansearch modules ``path`` imports when it is imported (not inside functions)."""
    tree = ast.parse(path.read_text())
    nested = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
              for n in ast.walk(f)}
    for node in ast.walk(tree):
        if id(node) in nested:
            continue
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("gansearch"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gansearch"):
            yield node.module
            yield from (f"{node.module}.{a.name}" for a in node.names)  # a submodule, if it is one


def test_no_import_cycles_between_modules():
    modules = {_module_name(p): p for p in SOURCES}
    edges = {}
    for name, path in modules.items():
        targets = set()
        for target in _top_level_imports(path):
            parts = target.split(".")
            # Importing a.b.c runs a/__init__, a/b/__init__, then a/b/c.
            targets |= {".".join(parts[:i]) for i in range(2, len(parts) + 1)} & set(modules)
        parents = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        edges[name] = targets - {name} - parents
    done, stack = set(), []

    def visit(node):
        assert node not in stack, f"import cycle: {' -> '.join([*stack[stack.index(node):], node])}"
        if node in done:
            return
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            visit(nxt)
        stack.pop()
        done.add(node)

    for node in sorted(edges):
        visit(node)
