"""One exception family for the project.

Every message names the problem and says how to fix it; the CLI prints it on one line and
exits non-zero. Catch :class:`GansearchError` to handle anything the project raises on purpose.
Values quoted in a message go through :func:`short`, so a hostile or huge value (a YAML alias
bomb, a megabyte string) never makes the message itself the problem.
"""

from __future__ import annotations

import reprlib
from typing import Any


class GansearchError(Exception):
    """Base of every error gansearch raises on purpose."""


class GansearchWarning(UserWarning):
    """Something worked, but not as asked (a pruning that removed much less than its amount)."""


class ConfigError(GansearchError, ValueError):
    """A configuration file, CLI flag or value is wrong (unknown key, bad type, out of range)."""


class CheckpointError(GansearchError):
    """A checkpoint file is missing, unreadable, or not one gansearch wrote."""


class ResourceMissingError(GansearchError, FileNotFoundError):
    """Data or weights that must exist locally are absent; the message says where to put them."""


class SweepBusyError(GansearchError):
    """Another process holds the sweep folder (a sweep running, or starting, with the same name)."""


class TrialOutOfMemory(GansearchError, RuntimeError):
    """The trial's model or data did not fit in the memory of its device."""


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlong = 2, 60, 60, 40
_REPR.maxtuple = _REPR.maxlist = _REPR.maxdict = _REPR.maxset = _REPR.maxfrozenset = 4


def short(value: Any) -> str:
    """A repr of ``value`` bounded in length and depth, for error messages."""
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        value = value.item()  # 'inf', not 'np.float64(inf)'
    return _REPR.repr(value)


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first non-empty line of an exception's message (its type name if it has none)."""
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[0][:limit] if lines else type(exc).__name__
