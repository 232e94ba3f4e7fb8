"""The teacher of a sweep: where it comes from, what it trains on, and how good it is.

A spec names a checkpoint (from ``gansearch train`` or ``gansearch import``) or a teacher
config, trained once per content of the config and its data (``STORAGE/.teachers/``, shared by
the sweeps of one storage folder) and copied into the sweep folder. Everything a trial needs of
the teacher is checked on the driver before any trial starts: the family fits the quality
metric and every recipe step, there is data (the spec's ``data:``, else the one the teacher
was trained on), and the training parameters parse. The teacher's own quality is measured
once, with the metric and evaluation of every trial, so students are judged against it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gansearch.checkpoint import Checkpoint, load_checkpoint
from gansearch.config import from_dict, load_yaml
from gansearch.data.config import DataConfig
from gansearch.errors import ConfigError
from gansearch.families import Family
from gansearch.search.evaluate import check_evaluation, cost, quality
from gansearch.search.spec import SweepSpec, check_teacher_fits


@dataclass
class Teacher:
    """A loaded teacher and what trials train and judge its students on."""

    checkpoint: Checkpoint
    family: Family
    data: DataConfig  # what the students train on (its test split, or itself, judges them)
    train_params: Any  # the family's training parameters (the teacher config's train: section)


def check_teacher(spec: SweepSpec) -> tuple[Family, DataConfig]:
    """Everything about the spec's teacher that can be checked before Ray starts or any teacher
    trains: its family fits the quality metric and every step, the data fits the family, and the
    evaluation has what it needs. Returns the family and the data trials will read."""
    if spec.teacher.checkpoint is not None:
        teacher = load_teacher(spec.resolve(spec.teacher.checkpoint), spec)
        return teacher.family, teacher.data
    cfg = teacher_config(spec)
    check_teacher_fits(spec, cfg.family)
    if spec.data is not None:
        cfg.family.check_data(spec.data, "data.source")
    check_evaluation(spec.evaluation, spec.quality.metric, spec.data or cfg.data)
    return cfg.family, spec.data or cfg.data


def describe_data(family: Family, data: DataConfig) -> str:
    """What trials will read: the source and how many items train and judge the students."""
    train, held_out = family.load(data), family.held_out(data)  # a photograph: one (1, C, H, W) image
    judged = "judged on the same" if held_out is None else f"judged on {len(held_out)} held out"
    where = f" {data.path or data.name}" if data.path or data.name else ""
    return f"data: {data.source}{where}, {len(train)} item(s) to train on, {judged}"


def teacher_config(spec: SweepSpec):
    from gansearch.families.teacher import parse_teacher_config

    path = spec.resolve(spec.teacher.config)
    return parse_teacher_config(load_yaml(path), str(path))


def prepare_teacher(spec: SweepSpec, folder: Path) -> Path:
    """The teacher checkpoint every trial starts from: the spec's, or trained now from the spec's
    teacher config (unless an earlier run of this sweep already did), checked against the spec
    first (a config teacher before it trains)."""
    if spec.teacher.checkpoint is not None:
        path = spec.resolve(spec.teacher.checkpoint).resolve()  # trials run in other folders
        load_teacher(path, spec)
        return path
    path = folder / "teacher" / "teacher.pt"
    if not path.is_file():
        check_teacher(spec)
        cached = cached_teacher(teacher_config(spec), folder.parent / TEACHER_CACHE, spec.teacher.config)
        shutil.copytree(cached, path.parent, dirs_exist_ok=True)
    load_teacher(path, spec)
    return path


TEACHER_CACHE = ".teachers"  # beside the sweeps of one storage: teachers trained from configs


def teacher_status(spec: SweepSpec, storage: Path) -> str:
    """Where the sweep's teacher will come from, for ``--dry-run``."""
    if spec.teacher.checkpoint is not None:
        return f"teacher: checkpoint {spec.resolve(spec.teacher.checkpoint)}"
    from gansearch.config import to_dict

    cfg = teacher_config(spec)
    where = storage / TEACHER_CACHE / teacher_key(to_dict(cfg), cfg.data)
    if (where / "teacher.pt").is_file():
        return f"teacher: trained before from {spec.teacher.config}, reused ({where})"
    return f"teacher: trained from {spec.teacher.config} when the sweep starts, then cached ({where})"


def cached_teacher(cfg, cache: Path, label: str = "teacher config") -> Path:
    """The folder of the teacher ``cfg`` trains, trained once per content of its config and
    data: a later sweep with the same config (under any name) reuses it. Two sweeps asking at
    once train it once: the second waits for the first."""
    import fcntl

    from gansearch.config import to_dict
    from gansearch.families.teacher import train_teacher

    key = teacher_key(to_dict(cfg), cfg.data)
    where = cache / key
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f"{key}.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (where / "teacher.pt").is_file():
            print(f"using the teacher trained before from {label} ({where})", flush=True)
            return where
        print(f"training the teacher from {label} once; later sweeps reuse it ({where})", flush=True)
        partial = cache / f"{key}.partial"
        shutil.rmtree(partial, ignore_errors=True)  # a training killed before it finished
        train_teacher(cfg, partial)
        partial.rename(where)
    return where


def teacher_key(config: dict[str, Any], data: DataConfig) -> str:
    """What a teacher trained from a config depends on: the config, the data file's content (or a
    data folder's file names, sizes and times) and the gansearch version."""
    from importlib.metadata import PackageNotFoundError, version

    from gansearch.search.folder import file_fingerprint, fingerprint

    source = Path(data.path) if data.path else None
    if source is not None and source.is_file():
        content = file_fingerprint(source)
    elif source is not None and source.is_dir():
        content = [(str(p.relative_to(source)), p.stat().st_size, p.stat().st_mtime_ns)
                   for p in sorted(source.rglob("*")) if p.is_file()]
    else:
        content = None
    try:
        release = version("gansearch")
    except PackageNotFoundError:
        release = "source"
    return fingerprint({"config": config, "data": content, "gansearch": release})[:24]


def load_teacher(path: str | Path, spec: SweepSpec) -> Teacher:
    """The teacher at ``path`` with its data and training parameters, checked against ``spec``."""
    teacher = read_teacher(path, trust_code=spec.teacher.trust_code, data=spec.data)
    check_teacher_fits(spec, teacher.family)
    check_evaluation(spec.evaluation, spec.quality.metric, teacher.data)
    return teacher


def read_teacher(path: str | Path, *, trust_code: bool = False, data: DataConfig | None = None,
                 map_location: str = "cpu") -> Teacher:
    """The teacher at ``path``; ``data`` replaces the data it records (an imported teacher may
    record none)."""
    ckpt = load_checkpoint(path, map_location=map_location, trust_code=trust_code)
    family = ckpt.family
    config = ckpt.meta.get("config") or {}
    given = data is not None
    if not given:
        if not config.get("data"):
            raise ConfigError(f"{path}: the teacher records no data it was trained on; give the data to "
                              "compress it on as data: in the search space (or --data to gansearch import)")
        data = from_dict(DataConfig, config["data"], f"{path} (its data)")
    family.check_data(data, "data.source" if given else f"{path} (its data.source)")
    params = from_dict(family.train_config, config.get("train") or {}, f"{path} (its train:)")
    return Teacher(ckpt, family, data, params)


def teacher_quality(teacher: Teacher, spec: SweepSpec) -> dict[str, float]:
    """The teacher's quality metric and costs, measured as every trial measures its student."""
    family, generator = teacher.family, teacher.checkpoint.generator
    held_out = family.held_out(teacher.data)
    held_out = family.load(teacher.data) if held_out is None else held_out
    example = family.example_input(generator, 1, family.image_size(held_out))
    # Against itself the teacher is perfect: with reference: teacher only its cost says anything.
    measured = {} if spec.evaluation.reference == "teacher" else \
        quality(family, generator, held_out, [spec.quality.metric], spec.evaluation)
    return {**measured, **cost(generator, example, 0)}


def save_teacher_samples(teacher: Teacher, path: Path, seed: int = 0) -> Path:
    """The teacher's sample grid, drawn as each trial draws its student's (the report shows
    them side by side)."""
    from gansearch.families.teacher import save_samples

    data = teacher.family.load(teacher.data)
    return save_samples(teacher.family, teacher.checkpoint.generator, data, path, seed=seed)
