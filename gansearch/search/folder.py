"""The sweep folder: its name, who may write it, what it was started with, and its tables.

A sweep lives in ``<storage>/<name>/``. The name is checked so that the folder stays inside
the storage folder. While a sweep starts, runs or resumes, it holds an exclusive lock on
``<storage>/.<name>.lock`` (``flock``: the kernel releases it when the process ends, however it
ends, so a lock left by a killed sweep is never in the way). ``sweep.json`` records the
fingerprint of the spec the sweep was started with and of its teacher checkpoint, so a resume
with an edited spec is refused instead of mixing two sweeps in one front, and the number of
rows the sweep wrote to ``results.csv``.

Tables read back from a folder (``results.csv``, ``pareto.csv``) are checked row by row: trial
ids must look like Ray Tune's (they become folder names), be unique, and every metric cell must
be a number.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import socket
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gansearch.errors import ConfigError, SweepBusyError, first_line, short

SWEEP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# Ray Tune's trial ids: 8 hex digits (searchers), or 5 hex digits, '_', a 5-digit counter
# (random and grid search).
TRIAL_ID = re.compile(r"[0-9a-f]{8}|[0-9a-f]{5}_[0-9]{5}")
STATUSES = ("finished", "error", "stopped", "interrupted", "infeasible", "running", "pending")
RECORD = "sweep.json"


def check_sweep_name(name: Any, where: str = "name") -> str:
    if not isinstance(name, str) or not SWEEP_NAME.fullmatch(name) or name.strip(".") == "":
        raise ConfigError(f"{where}: {short(name)} is not a sweep name; use letters, digits, '.', '_' "
                          "and '-' (up to 100, starting with a letter or digit)")
    return name


def check_trial_id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not TRIAL_ID.fullmatch(value):
        raise ConfigError(f"{where}: {short(value)} is not a trial id (ids look like 2e976102 or "
                          "2e976_00003)")
    return value


def inside(base: Path, *parts: str) -> Path:
    """``base / parts``, refused unless it resolves to a path inside ``base``."""
    root = Path(base).resolve()
    path = root.joinpath(*parts).resolve()
    if path == root or root not in path.parents:
        raise ConfigError(f"{short('/'.join(parts))} leads outside {root}; refused")
    return path


def sweep_folder(storage: str | Path, name: str) -> Path:
    """``<storage>/<name>``, resolved, for a checked ``name``."""
    return inside(Path(storage).expanduser(), check_sweep_name(name, "sweep name"))


# -- the lock -----------------------------------------------------------------------------------


class SweepLock:
    """Exclusive use of the sweep ``name`` in ``storage``, for one process at a time.

    ``with SweepLock(storage, name):`` raises :class:`SweepBusyError` at once if another process
    holds it; the lock file names the holder (host, process id, since when).
    """

    def __init__(self, storage: str | Path, name: str) -> None:
        self.path = Path(storage).expanduser().resolve() / f".{check_sweep_name(name, 'sweep name')}.lock"
        self._fd: int | None = None

    def __enter__(self) -> SweepLock:
        import fcntl

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"--storage {self.path.parent}: cannot create it ({exc.strerror or exc}); "
                              "name a folder you can write") from None
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
                os.close(fd)
                raise SweepBusyError(
                    f"{self.path.parent / self.path.name[1:-5]} is in use by {holder}; wait for that "
                    "sweep to end, or give this one another --name") from None
            # The last holder removes the file as it lets go: a file we opened just before that
            # is no longer the lock file; open the one that is now.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"gansearch pid {os.getpid()} on {socket.gethostname()} since "
                      f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n".encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            self.path.unlink(missing_ok=True)
            os.close(self._fd)  # releases the flock
            self._fd = None


# -- what the sweep was started with --------------------------------------------------------------


def fingerprint(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def file_fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_record(folder: Path) -> dict[str, Any]:
    path = folder / RECORD
    if not path.is_file():
        return {}
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: unreadable ({first_line(exc)}); it records what the sweep was "
                          "started with") from None
    if not isinstance(record, dict):
        raise ConfigError(f"{path}: not a sweep record (expected a JSON object)")
    return record


def update_record(folder: Path, **values: Any) -> None:
    """Merge ``values`` into ``sweep.json``, replacing the file whole."""
    record = {**read_record(folder), **values}
    partial = folder / (RECORD + ".partial")
    partial.write_text(json.dumps(record, indent=2, sort_keys=True), encoding="utf-8")
    partial.replace(folder / RECORD)


def check_same_spec(folder: Path, raw: dict[str, Any], teacher: Path | None) -> None:
    """Refuse to resume the sweep in ``folder`` with a spec or teacher other than its own."""
    record = read_record(folder)
    if "spec" in record and record["spec"] != fingerprint(raw):
        from gansearch.config import load_yaml

        before = load_yaml(folder / "spec.yaml") if (folder / "spec.yaml").is_file() else {}
        changes = differences(before, raw)
        raise ConfigError(f"--resume: the spec differs from the one {folder.name} was started with "
                          f"({'; '.join(changes[:3]) or 'see spec.yaml'}"
                          f"{f'; {len(changes) - 3} more' if len(changes) > 3 else ''}); undo the edit, "
                          "or run the edited spec as a new sweep with --name")
    if teacher is not None and record.get("teacher") and record["teacher"] != file_fingerprint(teacher):
        raise ConfigError(f"--resume: the teacher checkpoint {teacher} changed since {folder.name} "
                          "started; restore it, or run a new sweep with --name")


def differences(before: Any, after: Any, at: str = "") -> list[str]:
    """``key: old -> new`` for every leaf that differs between two parsed YAML documents."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in [*before, *(k for k in after if k not in before)]:
            where = f"{at}.{key}" if at else str(key)
            if key not in after:
                out.append(f"{where} removed")
            elif key not in before:
                out.append(f"{where} added ({short(after[key])})")
            else:
                out += differences(before[key], after[key], where)
        return out
    return [] if before == after else [f"{at or 'spec'}: {short(before)} -> {short(after)}"]


# -- the tables -------------------------------------------------------------------------------------


def read_table(path: Path, metrics: Iterable[str] = (), *, rows: int | None = None):
    """``results.csv`` or ``pareto.csv`` as a DataFrame, refused in one line if it is not what a
    sweep writes: unreadable, without trial ids and statuses, with an id that is not Ray
    Tune's or appears twice, an unknown status, a ``metrics`` cell that is not a number or is
    infinite, another number of rows than the sweep recorded (``rows``), or a last line cut short."""
    import pandas as pd

    try:
        table = pd.read_csv(path, dtype={"trial_id": str, "status": str})
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file; pass the folder of a finished sweep") from None
    except pd.errors.EmptyDataError:
        raise ConfigError(f"{path}: empty; rerun 'gansearch report' or --resume the sweep") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise ConfigError(f"{path}: not a readable table ({first_line(exc)})") from None
    with open(path, "rb") as f:  # a sweep writes whole lines; a file that ends mid-line was cut
        f.seek(-1, os.SEEK_END)
        if f.read(1) != b"\n":
            raise ConfigError(f"{path}: ends in the middle of a line; the file was cut: rerun "
                              "'gansearch sweep ... --resume' or 'gansearch report' to write it again")
    for column in ("trial_id", "status"):
        if column not in table.columns:
            raise ConfigError(f"{path}: no {column} column; is this a sweep's table?")
    for i, (trial, status) in enumerate(zip(table["trial_id"], table["status"], strict=True)):
        check_trial_id(trial, f"{path}, row {i + 1}: trial_id")
        if status not in STATUSES:
            raise ConfigError(f"{path}, row {i + 1}: status {short(status)} is not one of "
                              f"{', '.join(STATUSES)} (a cut or edited file?)")
    repeated = table["trial_id"][table["trial_id"].duplicated()]
    if len(repeated):
        raise ConfigError(f"{path}: trial {repeated.iloc[0]} appears more than once")
    for column in metrics:
        if column not in table.columns:
            continue
        values = pd.to_numeric(table[column], errors="coerce")
        bad = table[column].notna() & values.isna()
        bad |= values.map(lambda v: v == v and not math.isfinite(v))
        if bad.any():
            i = int(bad.to_numpy().nonzero()[0][0])
            raise ConfigError(f"{path}, row {i + 1}: {column} is {short(table[column].iloc[i])}, "
                              "not a finite number")
        table[column] = values
    if rows is not None and len(table) != rows:
        raise ConfigError(f"{path}: {len(table)} rows, but the sweep wrote {rows}; the file was cut or "
                          "edited: rerun 'gansearch sweep ... --resume' to write it again")
    return table
