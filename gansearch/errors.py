"""One exception family for the project.

Every message names the problem and says how to fix it; the CLI prints it on one line and
exits non-zero. Catch :class:`GansearchError` to handle anything the project raises on purpose.
"""

from __future__ import annotations


class GansearchError(Exception):
    """Base of every error gansearch raises on purpose."""


class ConfigError(GansearchError, ValueError):
    """A configuration file, CLI flag or value is wrong (unknown key, bad type, out of range)."""


class CheckpointError(GansearchError):
    """A checkpoint file is missing, unreadable, or not one gansearch wrote."""


class ResourceMissingError(GansearchError, FileNotFoundError):
    """Data or weights that must exist locally are absent; the message says where to put them."""
