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
