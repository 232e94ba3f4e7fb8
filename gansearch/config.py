"""Typed, frozen configs built from plain dicts (parsed YAML) with errors that name the key.

Configs are parsed once at the edge (YAML, CLI) into frozen dataclasses; nothing downstream
rewrites them. ``from_dict`` rejects unknown keys, checks basic types, and recurses into nested
dataclasses, so a typo in a YAML file fails before any work starts.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from gansearch.errors import ConfigError, short

T = TypeVar("T")


def from_dict(cls: type[T], data: Any, where: str = "config") -> T:
    """Build dataclass ``cls`` from ``data``; ``where`` names the place for error messages."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__} ({short(data)})")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted((k for k in data if k not in fields), key=str)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(map(short, unknown[:5]))}; "
            f"known keys are {', '.join(sorted(fields))}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {name: _coerce(hints[name], value, f"{where}.{name}") for name, value in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required key is missing
        raise ConfigError(f"{where}: {exc}") from None


def to_dict(config: Any) -> dict[str, Any]:
    """Plain-dict form of a config dataclass (YAML/JSON/MLflow friendly)."""
    return _plain(dataclasses.asdict(config))


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads 1e-3 (no dot) as a string; read it as the number everyone means."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                |[-+]?\.(?:inf|Inf|INF)
                |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."),
)


MAX_YAML_VALUES = 100_000  # far beyond any real config; a YAML "billion laughs" is far beyond it


def parse_yaml(text: str, where: str = "YAML") -> Any:
    """Parse YAML safely (no Python objects), with one-line errors naming ``where``.

    The safe loader shares aliased values instead of copying them, but whatever walks the
    result (validation, error messages, logging) would visit every alias; a document whose
    aliases expand to more than ``MAX_YAML_VALUES`` values is refused before that.
    """
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{where}: invalid YAML{at}: {getattr(exc, 'problem', None) or exc}") from None
    if _expanded_size(data, {}) > MAX_YAML_VALUES:
        raise ConfigError(f"{where}: its aliases expand to more than {MAX_YAML_VALUES:,} values; "
                          "write the values out instead of nesting aliases")
    return data


def _expanded_size(value: Any, seen: dict[int, int]) -> int:
    # Counted once per distinct object: an alias bomb is a small graph of shared lists.
    if not isinstance(value, (list, dict)):
        return 1
    key = id(value)
    if key not in seen:
        seen[key] = MAX_YAML_VALUES + 1  # a cycle (a recursive alias) counts as too large
        items = value.values() if isinstance(value, dict) else value
        seen[key] = 1 + sum(min(_expanded_size(v, seen), MAX_YAML_VALUES + 1) for v in items)
    return seen[key]


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with a one-line error for a missing, unreadable or bad file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file; pass the path of a YAML config")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a UTF-8 text file (byte {exc.start}); save it as UTF-8 "
                          "YAML") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    data = parse_yaml(text, str(path))
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a YAML mapping at the top level")
    return data


def check_range(where: str, value: float, low: float | None = None, high: float | None = None,
                *, low_open: bool = False, high_open: bool = False) -> None:
    """Raise ConfigError unless ``low <= value <= high`` (or strict where ``*_open``); NaN and
    infinities are refused everywhere."""
    if not _finite(value):
        raise ConfigError(f"{where} must be a finite number, got {short(value)}")
    bad = (low is not None and (value <= low if low_open else value < low)) or (
        high is not None and (value >= high if high_open else value > high)
    )
    if bad:
        lo = "" if low is None else f"{low} {'<' if low_open else '<='} "
        hi = "" if high is None else f" {'<' if high_open else '<='} {high}"
        raise ConfigError(f"{where} must satisfy {lo}{where.rsplit('.', 1)[-1]}{hi}, got {short(value)}")


def check_choice(where: str, value: Any, choices: typing.Iterable[Any]) -> None:
    choices = tuple(choices)
    if value not in choices:
        raise ConfigError(f"{where} must be one of {', '.join(map(repr, choices))}; got {short(value)}")


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(arg, value, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{where}: {short(value)} fits none of {hint}")
    if origin is typing.Literal:
        check_choice(where, value, args)
        return value
    if dataclasses.is_dataclass(hint):
        return value if isinstance(value, hint) else from_dict(hint, value, where)
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {short(value)}")
        item = args[0] if args else Any
        return tuple(_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {short(value)}")
        return dict(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {short(value)}")
        if not _finite(value):
            raise ConfigError(f"{where}: expected a finite number, got {short(value)}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {short(value)}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {short(value)}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {short(value)}")
        return value
    return value


def _finite(value: Any) -> bool:
    if isinstance(value, int):  # however large, an integer is finite (and may not fit a float)
        return True
    try:
        return math.isfinite(value)
    except (TypeError, ValueError):
        return False


DEVICE = re.compile(r"auto|cpu|mps|cuda(:[0-9]{1,3})?")


def check_device(where: str, name: str) -> None:
    """The spelling of a device; whether this machine has it is ``resolve_device``'s question."""
    if not isinstance(name, str) or not DEVICE.fullmatch(name):
        raise ConfigError(f"{where} must be auto, cpu, cuda or cuda:N, got {short(name)}")


def check_seed(where: str, value: int) -> None:
    """Seeds feed NumPy and torch generators, which take 0 .. 2**32 - 1."""
    check_range(where, value, 0, 2**32 - 1)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
