"""One trial: a copy of the teacher, the recipe's steps, and the student's quality and cost.

``run_trial`` is plain Python: the Ray Tune trainable (``gansearch.search.trainable``) calls it
with a reporter that forwards to Tune, and ``gansearch trial`` calls it in-process with one
that prints. After every recipe step it saves the student and its discriminator to
``progress.pt`` (replaced whole), so a restarted trial continues after its last finished step,
and reports the quality metric and the cost metrics of the student as it is then; the last
report (``final`` = 1) is measured on the finished student, latency included, and names the
file the compacted student was written to. ``stage`` counts the reports (1 per step, then the
final one) and is what an early-stopping scheduler counts, also across a restart.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.nn.utils import prune

from gansearch.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from gansearch.data.config import DataConfig
from gansearch.errors import TrialOutOfMemory
from gansearch.families.teacher import save_samples
from gansearch.search.evaluate import cost, quality
from gansearch.search.recipe import Student, copy_for_student
from gansearch.search.spec import SweepSpec
from gansearch.search.teacher import read_teacher
from gansearch.train.loop import resolve_device

Reporter = Callable[[dict[str, Any], Path | None], None]  # (metrics, progress file or None)


# Costs every trial reports, objectives or not (latency only where it was timed: the final one).
ALWAYS_LOGGED = ("params", "macs", "weight_bytes", "peak_activation_bytes", "sparsity", "latency_ms")


class TimedReporter:
    """A reporter that times the compression core around it. Built just before ``run_trial``
    starts, it adds to the final report ``core_seconds`` (the time inside ``run_trial`` minus the
    time spent in ``report``: what compressing, training and measuring cost), ``trial_seconds``
    (the time since ``started``: what the trial cost with its reporting and set-up) and
    ``torch_threads`` (the intra-op threads the trial ran with). A restarted trial's figures
    cover its last attempt only."""

    def __init__(self, report: Reporter, started: float | None = None) -> None:
        self.report = report
        self.core_started = time.perf_counter()
        self.started = self.core_started if started is None else started  # a time.perf_counter()
        self.reporting = 0.0

    def __call__(self, metrics: dict[str, Any], progress_file: Path | None) -> None:
        begun = time.perf_counter()
        if metrics.get("final") == 1:
            metrics = {**metrics, "core_seconds": begun - self.core_started - self.reporting,
                       "trial_seconds": begun - self.started, "torch_threads": torch.get_num_threads()}
        try:
            self.report(metrics, progress_file)
        finally:
            self.reporting += time.perf_counter() - begun


def run_trial(spec: SweepSpec, knobs: dict[str, Any], teacher_path: str | Path, out_dir: str | Path,
              report: Reporter, *, device: str | None = None, restore: Path | None = None,
              callbacks: list[Any] | None = None) -> dict[str, Any]:
    """Apply the recipe with ``knobs`` to the teacher, reporting after every step; returns the
    final metrics. ``restore`` is a progress checkpoint of an earlier run of the same trial.
    Running out of memory raises :class:`TrialOutOfMemory` naming the device and the step."""
    where = ["loading the teacher"]
    with memory_errors(device or spec.device, where):
        return _run(spec, knobs, teacher_path, Path(out_dir), report, device, restore, callbacks, where)


def plan_trial(spec: SweepSpec, knobs: dict[str, Any], teacher_path: str | Path):
    """The plan (fingerprint, known costs) of the trial ``knobs`` make, before it trains; running
    out of memory building the student raises :class:`TrialOutOfMemory` naming the step."""
    where = ["planning the student"]
    with memory_errors("cpu", where):
        return plans_for(spec, teacher_path).plan(knobs, where)


@contextlib.contextmanager
def memory_errors(device: str, where: list[str]):
    """A failed allocation as :class:`TrialOutOfMemory`, naming ``device`` and ``where[0]``."""
    try:
        yield
    except RuntimeError as exc:  # torch.OutOfMemoryError (CUDA) is one; a failed CPU malloc is plain
        if not _out_of_memory(exc):
            raise
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        raise TrialOutOfMemory(f"out of memory on {device} in {where[0]}: {_allocation(exc)}; choose "
                               "smaller settings for this step or give each trial more memory") from exc


def _out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    text = str(exc)
    return "can't allocate memory" in text or "not enough memory" in text or "out of memory" in text


def _allocation(exc: BaseException) -> str:
    import re

    asked = re.search(r"allocate (\d+) bytes", str(exc))  # the CPU allocator's wording
    if asked:
        return f"tried to allocate {int(asked.group(1)) / 2**30:.1f} GiB"
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[0][:200] if lines else type(exc).__name__


def _run(spec: SweepSpec, knobs: dict[str, Any], teacher_path: str | Path, out_dir: Path,
         report: Reporter, device: str | None, restore: Path | None, callbacks: list[Any] | None,
         where: list[str]) -> dict[str, Any]:
    recipe = spec.recipe.with_knobs(knobs)
    dev = resolve_device(device or spec.device)
    student = load_student(str(teacher_path), dev, spec.evaluation.seed, trust_code=spec.teacher.trust_code,
                           data=spec.data)
    student.callbacks = list(callbacks or [])
    start = 0
    if restore is not None:
        start = restore_progress(student, restore, spec.teacher.trust_code)
    out_dir.mkdir(parents=True, exist_ok=True)
    metric = spec.quality.metric
    costs = [o.metric for o in spec.costs]

    def measure(latency_runs: int) -> dict[str, Any]:
        q = quality(student.family, student.generator, student.held_out, [metric], spec.evaluation,
                    teacher=student.teacher)
        c = cost(student.generator, student.example_input(), latency_runs)
        return {**q, **{k: c[k] for k in (*costs, *ALWAYS_LOGGED) if k in c}}

    for i, (address, step) in enumerate(recipe.steps[start:], start):
        where[0] = f"step {address}"
        step.apply(student)
        progress_file = out_dir / "progress.pt"
        save_progress(student, i + 1, progress_file)
        report({**measure(0), "recipe_step": i + 1, "stage": i + 1, "step_name": address, "final": 0},
               progress_file)

    where[0] = "the final measurement"
    final = measure(spec.evaluation.latency_runs)
    student_file = out_dir / "student.pt"  # written last but one: see finished_result
    save_checkpoint(student_file, Checkpoint(student.model, student.generator, meta={
        "recipe": {a: _plain(s) for a, s in recipe.steps}, "knobs": knobs,
        "teacher": str(teacher_path), "metrics": final,
        "input_shapes": [list(t.shape) for t in student.example_input()]}))
    save_samples(student.family, student.generator, student.data, out_dir / "samples.png",
                 seed=spec.evaluation.seed)
    result = _final_result(final, len(recipe.steps), out_dir)
    report(result, None)
    (out_dir / "progress.pt").unlink(missing_ok=True)  # last: the student supersedes it
    return result


def finished_result(spec: SweepSpec, out_dir: Path) -> dict[str, Any]:
    """The final result of a trial that ran to the end into ``out_dir`` before (its student is
    there and its progress file is gone), read back from what it wrote, without rerunning it."""
    final = load_checkpoint(out_dir / "student.pt", trust_code=spec.teacher.trust_code).meta["metrics"]
    return _final_result(final, len(spec.recipe.steps), out_dir)


def _final_result(final: dict[str, Any], steps: int, out_dir: Path) -> dict[str, Any]:
    return {**final, "recipe_step": steps, "stage": steps + 1, "final": 1,
            "student_file": str(out_dir / "student.pt"), "samples_file": str(out_dir / "samples.png")}


@functools.lru_cache(maxsize=2)
def _teacher(path: str, device: str, trust_code: bool, data: DataConfig | None):
    # Kept per worker process: a reused Ray actor loads the teacher and its data once.
    teacher = read_teacher(path, trust_code=trust_code, data=data, map_location=device)
    family = teacher.family
    train = family.load(teacher.data)
    if isinstance(train, torch.Tensor):  # one photograph (SinGAN): kept on the trial's device
        train = train.to(device)
    # Translation students are judged on pairs they never trained on; the others on what they
    # imitate (SinGAN's photograph, the image set).
    held_out = family.held_out(teacher.data)
    held_out = train if held_out is None else held_out
    teacher.checkpoint.generator.requires_grad_(False)
    if teacher.checkpoint.discriminator is None:  # an imported teacher: its students get a new one
        teacher.checkpoint.discriminator = family.default_discriminator(teacher.checkpoint.generator,
                                                                        train).to(device)
    return teacher, train, held_out


def load_student(teacher_path: str, device: torch.device, seed: int = 0, *, trust_code: bool = False,
                 data: DataConfig | None = None) -> Student:
    """A fresh student: trainable copies of the teacher's generator and discriminator (a new
    discriminator of its family when the teacher came without one)."""
    teacher, train, held_out = _teacher(str(teacher_path), str(device), trust_code, data)
    ckpt = teacher.checkpoint
    torch.manual_seed(seed)
    return Student(teacher.family, copy_for_student(ckpt.generator), copy_for_student(ckpt.discriminator),
                   ckpt.generator, train, teacher.train_params, device, seed, held_out=held_out)


def plans_for(spec: SweepSpec, teacher_path: str | Path, device: str = "cpu"):
    """The ``StudentPlans`` of ``spec``'s recipe on its teacher, kept per process (a worker plans
    every trial it runs from one copy)."""
    from gansearch.search.folder import fingerprint
    from gansearch.search.plans import StudentPlans

    key = (str(teacher_path), fingerprint(spec.raw), device)
    if key not in _PLANS:
        teacher, train, _ = _teacher(str(teacher_path), device, spec.teacher.trust_code, spec.data)
        family, generator = teacher.family, teacher.checkpoint.generator
        example = family.example_input(generator, 1, family.image_size(train))
        _PLANS.clear()  # one sweep's plans at a time per process
        _PLANS[key] = StudentPlans(spec.recipe, family, generator, example, spec.evaluation.seed)
    return _PLANS[key]


_PLANS: dict = {}  # per process, like the teacher: a reused Ray worker plans from one copy


def save_progress(student: Student, next_step: int, path: Path) -> None:
    masked = [n for n, m in student.generator.named_modules() if hasattr(m, "weight_mask")]
    save_checkpoint(path, Checkpoint(student.model, student.generator, student.discriminator,
                                     meta={"next_step": next_step, "masked": masked}))


def restore_progress(student: Student, path: Path, trust_code: bool = False) -> int:
    """Load a progress checkpoint into ``student``; returns the index of the next step."""
    ckpt = load_checkpoint(path, map_location=student.device, trust_code=trust_code)
    student.generator = ckpt.generator.to(student.device)
    student.discriminator = ckpt.discriminator.to(student.device)
    # Masks were folded into the stored weights; the zeros they left are the masks again.
    modules = dict(student.generator.named_modules())
    for name in ckpt.meta.get("masked", []):
        m = modules[name]
        prune.custom_from_mask(m, "weight", (m.weight != 0).to(m.weight.dtype))
    return int(ckpt.meta["next_step"])


def _plain(step: Any) -> dict[str, Any]:
    import dataclasses

    return dataclasses.asdict(step)
