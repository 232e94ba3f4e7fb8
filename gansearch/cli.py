"""The ``gansearch`` command line.

Every verb parses its input into typed configs first; an error in input prints one line
(``gansearch: error: ...``) and exits with status 2, before any work or any file is written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from gansearch.errors import ConfigError, GansearchError


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "verbose", False):  # MLflow's store setup notes, on every run
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    try:
        return args.run(args)
    except GansearchError as exc:
        print(f"gansearch: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gansearch: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into head or similar, which stopped reading
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - Python flushes stdout at exit
        return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gansearch", description=__doc__.splitlines()[0])
    from gansearch import __version__

    p.add_argument("--version", action="version", version=f"gansearch {__version__}")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")

    t = verbs.add_parser("train", help="train a teacher generator from a YAML config")
    t.add_argument("config", type=Path, help="teacher config (see search_spaces/teachers/)")
    t.add_argument("--out", type=Path, help="output folder (default: the config's out:, else "
                                            "runs/teachers/CONFIG_NAME)")
    t.add_argument("--device", help="override the config's device (auto, cpu, cuda, cuda:N)")
    t.add_argument("--seed", type=int, help="override the config's seed")
    t.set_defaults(run=_train)

    im = verbs.add_parser("import", help="a generator trained elsewhere as a teacher checkpoint: "
                                         "pix2pix/CycleGAN, the PyTorch examples' DCGAN, your own module")
    im.add_argument("format", choices=("pix2pix", "dcgan", "module"), help="what wrote WEIGHTS")
    im.add_argument("weights", type=Path, help="the state dict (e.g. latest_net_G.pth)")
    im.add_argument("--out", type=Path, required=True, help="the teacher checkpoint to write (TEACHER.pt)")
    im.add_argument("--generator", help="pix2pix: resnet_9blocks, resnet_6blocks, unet_128 or unet_256 "
                                        "(default: read from the tensors)")
    im.add_argument("--ngf", type=int, help="pix2pix: filters of the first layer (checked)")
    im.add_argument("--norm", choices=("batch", "instance"), help="pix2pix: norm layers (checked)")
    im.add_argument("--dropout", action=argparse.BooleanOptionalAction,
                    help="pix2pix: dropout while fine-tuning (the U-Net's file cannot say; default off)")
    im.add_argument("--discriminator", type=Path, help="pix2pix: its PatchGAN too (latest_net_D.pth)")
    im.add_argument("--module", help="module: package.module:factory or path/to/file.py:factory")
    im.add_argument("--kwargs", default="{}", help="module: keyword arguments of the factory, as YAML")
    im.add_argument("--input", help="module: what it takes: latent:N, latent:NxHxW or image:CxHxW")
    im.add_argument("--data", help="the data it was trained on, as a YAML data: mapping, e.g. "
                                   "'{source: edges2photos, image_size: 256}' (or give data: in the sweep)")
    im.add_argument("--train", default="{}", help="training hyperparameters for fine-tuning, as YAML "
                                                   "(default: the family's)")
    im.set_defaults(run=_import)

    pr = verbs.add_parser("profile", help="measure a checkpoint's generator: parameters, MACs, "
                                          "storage, activation memory, latency")
    pr.add_argument("checkpoint", type=Path)
    pr.add_argument("--size", type=int, help="input side for image-to-image generators "
                                             "(default 256)")
    pr.add_argument("--batch", type=int, default=1)
    pr.add_argument("--runs", type=int, default=20, help="timed forward passes (0: no timing)")
    pr.add_argument("--device", default="cpu")
    pr.add_argument("--layers", action="store_true", help="also print the per-operator MACs")
    pr.add_argument("--norm-macs", action="store_true",
                    help="count instance, layer and group norms as GAN Compression does "
                         "(one MAC per output element)")
    pr.add_argument("--trust-code", action="store_true", help="build a generator whose checkpoint names "
                                                              "code of yours (gansearch import module)")
    pr.set_defaults(run=_profile)

    sw = verbs.add_parser("sweep", help="run a compression sweep: Ray Tune trials, MLflow runs, "
                                        "the Pareto front")
    sw.add_argument("space", type=Path, help="search space YAML (see search_spaces/)")
    sw.add_argument("--address", help="an existing Ray cluster (host:port); default: a local Ray")
    sw.add_argument("--tracking-uri", help="MLflow tracking URI; default: a SQLite store in the "
                                           "sweep folder")
    sw.add_argument("--name", help="sweep name (default: the space's name:)")
    sw.add_argument("--storage", default="runs/sweeps", help="results folder, or a path shared by "
                                                             "the cluster's nodes (default runs/sweeps)")
    sw.add_argument("--num-samples", type=int, help="trials (overrides search.num_samples)")
    sw.add_argument("--resume", action="store_true", help="continue an interrupted sweep")
    sw.add_argument("--gpus-per-trial", type=float, help="GPUs per trial; a fraction packs "
                                                         "trials on one GPU (overrides resources.gpus)")
    sw.add_argument("--dry-run", action="store_true", help="validate, print the resolved space "
                                                           "and the trial count, start nothing")
    sw.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="change a setting of the space file, e.g. search.num_samples=4 or "
                         "finetune.iterations=20 (a searched knob becomes fixed); repeatable")
    sw.add_argument("--quiet", action="store_true", help="no line per trial")
    sw.add_argument("--verbose", action="store_true", help="Ray Tune's own status tables and Ray's "
                                                           "startup messages instead of a line per trial")
    sw.set_defaults(run=_sweep)

    rp = verbs.add_parser("report", help="a finished sweep's Pareto front: pareto.csv, plots, "
                                         "report.html, MLflow tags")
    rp.add_argument("sweep", type=Path, help="the sweep's results folder (runs/sweeps/NAME), or "
                                             "its name with --tracking-uri")
    rp.add_argument("--compare", type=Path, metavar="OTHER_SWEEP",
                    help="another sweep's folder whose front is overlaid on the plots and page")
    rp.add_argument("--tracking-uri", help="MLflow store of the sweep (default: the folder's mlflow.db)")
    rp.add_argument("--no-mlflow", action="store_true", help="write the files only; log and tag nothing")
    rp.set_defaults(run=_report)

    db = verbs.add_parser("dashboard", help="STORAGE/index.html: every sweep in a storage folder, "
                                            "their fronts compared (rewritten by sweeps as trials end)")
    db.add_argument("storage", type=Path, nargs="?", default=Path("runs/sweeps"),
                    help="the folder of sweep folders (default: runs/sweeps)")
    db.set_defaults(run=_dashboard)

    tr = verbs.add_parser("trial", help="run one trial of a search space in this process, "
                                        "without Ray (for debugging)")
    tr.add_argument("space", type=Path)
    tr.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a knob value, e.g. prune_filters.amount=0.5 (repeatable)")
    tr.add_argument("--teacher", type=Path, help="teacher checkpoint (default: the space's, or "
                                                 "the one its sweep trained)")
    tr.add_argument("--out", type=Path, default=Path("runs/trial"), help="where the student goes")
    tr.add_argument("--device", help="override the space's device")
    tr.set_defaults(run=_trial)

    ex = verbs.add_parser("export", help="export a sweep's students: checkpoint, torch.export, "
                                         "TorchScript (ONNX if installed), a model card")
    ex.add_argument("sweep", type=Path, help="a sweep's results folder (runs/sweeps/NAME)")
    which = ex.add_mutually_exclusive_group(required=True)
    which.add_argument("--pareto", action="store_true", help="every trial on the Pareto front")
    which.add_argument("--trial", help="one trial, by its id")
    ex.add_argument("--out", type=Path, help="output folder (default: SWEEP/export)")
    ex.add_argument("--register", metavar="NAME", help="also register each as a version of model "
                                                       "NAME in the sweep's MLflow Model Registry")
    ex.add_argument("--trust-code", action="store_true", help="build students whose checkpoints name "
                                                              "code of yours (a module teacher)")
    ex.add_argument("--runtimes", default="eager,channels_last,onnxruntime",
                    help="deployment runtimes to time for the model card, comma-separated, from "
                         "eager, channels_last, compile, onnxruntime; or all (compile takes "
                         "minutes on a CPU)")
    ex.set_defaults(run=_export)
    return p


def _export(args: argparse.Namespace) -> int:
    from gansearch.export import export_trials

    if not args.sweep.is_dir():
        raise ConfigError(f"{args.sweep}: no such sweep folder; pass runs/sweeps/NAME")
    written = export_trials(args.sweep, args.out or args.sweep / "export", trial=args.trial,
                            pareto=args.pareto, register=args.register, trust_code=args.trust_code,
                            runtimes=args.runtimes)
    for folder in written:
        card = json.loads((folder / "model_card.json").read_text())
        runtime = card["runtime"]
        fastest = runtime["fastest"]
        timing = (f" (fastest on {runtime['device']}: {fastest}, {runtime['latency_ms'][fastest]:.1f} ms)"
                  if fastest else "")
        print(f"exported {folder}{timing}")
    if args.register:
        print(f"registered {len(written)} version(s) of model {args.register!r}")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from gansearch.config import check_range
    from gansearch.search.spec import load_spec

    spec = load_spec(args.space, sets=_sets(args.set))
    if args.num_samples is not None:
        check_range("--num-samples", args.num_samples, 1)
    if args.gpus_per_trial is not None:
        check_range("--gpus-per-trial", args.gpus_per_trial, 0)
    if args.name is not None:
        from gansearch.search.folder import check_sweep_name

        check_sweep_name(args.name, "--name")
    from gansearch.search.sweep import SweepOptions, check_resources, local_resources, run_sweep

    options = SweepOptions(storage=args.storage, name=args.name, address=args.address,
                           tracking_uri=args.tracking_uri, num_samples=args.num_samples,
                           gpus_per_trial=args.gpus_per_trial, resume=args.resume,
                           verbose=0 if args.quiet else 2 if args.verbose else 1, on_update=_live_report)
    if not args.verbose:  # Optuna announces every study it creates or loads
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
    if args.address is None:  # a local Ray: what this machine has is known before it starts
        check_resources(spec, options, local_resources())
    if args.dry_run:
        print(_describe_spec(spec, args.num_samples))
        from gansearch.search.teacher import check_teacher, describe_data, teacher_status

        family, data = check_teacher(spec)  # it must fit the metric, every step and the data
        print(f"teacher family: {family.name}; {describe_data(family, data)}")
        print(teacher_status(spec, Path(args.storage)))
        if args.address is None:
            print(_resources_line(spec, options, local_resources()))
        return 0
    from gansearch.search.sweep import sweep_folder

    page = sweep_folder(spec, options) / "report.html"
    if not args.resume:
        print(f"report: {page} (rewritten as trials finish; open it in a browser to watch)", flush=True)
    result = run_sweep(spec, options)
    from gansearch.report.build import build_report
    from gansearch.report.dashboard import write_dashboard

    build_report(result.folder, tracking_uri=result.tracking_uri)  # the final one: it stops reloading
    write_dashboard(result.folder.parent)
    print(_summary(spec, result))
    if result.unfinished:
        again = " ".join(["gansearch sweep", str(args.space), "--resume", "--storage", args.storage]
                         + (["--name", args.name] if args.name else []))
        print(f"interrupted with {result.unfinished} trial(s) unfinished; continue with: {again}")
        return 130
    table = result.table
    if len(table) and not (table["status"] == "finished").any():
        print("gansearch: error: no trial finished; the reasons are listed above", file=sys.stderr)
        return 1
    return 0


def _live_report(folder: Path) -> None:
    """The sweep's page and its storage's dashboard, rebuilt as a trial ends."""
    from gansearch.report.build import build_report
    from gansearch.report.dashboard import write_dashboard

    build_report(folder, track=False, live=True)
    write_dashboard(folder.parent)


def _dashboard(args: argparse.Namespace) -> int:
    from gansearch.report.dashboard import write_dashboard

    print(f"dashboard: {write_dashboard(args.storage)}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from gansearch.report.build import build_report

    sweep = args.sweep
    if not Path(sweep).is_dir() and args.tracking_uri:  # a sweep named by its MLflow experiment
        from gansearch.search.tracking import sweep_folder_of

        sweep = sweep_folder_of(args.tracking_uri, str(sweep))
    report = build_report(sweep, compare=args.compare, tracking_uri=args.tracking_uri,
                          track=not args.no_mlflow)
    print(report.counts)
    excluded = report.front.attrs.get("excluded", 0)
    print(f"Pareto front: {len(report.front)} trials" + (f" ({excluded} without every objective left out)"
                                                        if excluded else ""))
    print(f"hypervolume {report.hypervolume:.6g} (reference point "
          + ", ".join(f"{k} {v:.6g}" for k, v in report.reference.items()) + ")")
    teacher = {k: v for k, v in report.teacher.items() if k in report.reference or k == report.quality}
    measured = "measured as every trial" if report.quality in teacher else "cost only"
    print("teacher: " + (", ".join(f"{k} {v:.6g}" for k, v in teacher.items()) + f" ({measured})"
                         if teacher else "not measured and its checkpoint not found; not marked"))
    for path in report.files:
        print(f"wrote {path}")
    if report.parent_run_id:
        print(f"logged to MLflow run {report.parent_run_id}; trial runs tagged pareto=true|false")
    print(f"open {(report.folder / 'report.html').as_uri()} in a browser (works offline)")
    return 0


def _describe_spec(spec, num_samples) -> str:
    lines = [f"sweep {spec.name}: {spec.planned_trials(num_samples)} trials, {spec.search.algorithm} search, "
             f"scheduler {spec.scheduler.type}",
             f"teacher: {spec.teacher.checkpoint or spec.teacher.config + ' (trained once)'}",
             "recipe: " + " -> ".join(spec.recipe.addresses),
             "objectives: " + ", ".join(f"{o.metric} ({o.direction})" for o in spec.objectives),
             "space:"]
    lines += [f"  {k}: {d.kind} {list(d.values)}" for k, d in spec.space.items()]
    fixed = {k: v for k, v in spec.recipe.knobs().items() if k not in spec.space}
    lines += ["fixed:"] + [f"  {k}: {v}" for k, v in fixed.items()]
    return "\n".join(lines)


def _summary(spec, result) -> str:
    from gansearch.metrics.cost import human
    from gansearch.report.sweep import trial_counts
    from gansearch.search.hypervolume import hypervolume_share

    table, front = result.table, result.front
    objectives = {o.metric: o.direction for o in spec.objectives}
    names = list(objectives)
    lines = [trial_counts(table)]
    if result.teacher:
        lines.append("teacher (measured as every trial): " + ", ".join(
            f"{k} {human(result.teacher[k]) if k != names[0] else f'{result.teacher[k]:.4g}'}"
            for k in names if k in result.teacher))
    lines.append(f"Pareto front ({len(front)} trials; {', '.join(names)}):")
    if len(front):
        lines.append(front[["trial_id", *names, *spec.space]].to_string(index=False))
        finished = table[table["status"] == "finished"]
        share = hypervolume_share(front, finished, objectives)
        lines.append(f"hypervolume: {share:.1%} of the box from the best value of each objective to "
                     f"10% beyond the worst (100%: one trial best at everything)")
    folder = result.folder
    lines += [f"results: {folder / 'results.csv'}, front: {folder / 'pareto.csv'}, students: "
              f"{folder / 'students'}",
              f"report: {folder / 'report.html'} (open it in a browser; all sweeps: "
              f"{folder.parent / 'index.html'})",
              "next:",
              f"  gansearch report {folder} --compare OTHER_SWEEP   # overlay another sweep's front",
              f"  gansearch export {folder} --pareto             # or --trial ID",
              f"  mlflow ui --backend-store-uri {result.tracking_uri}   # then http://127.0.0.1:5000"]
    return "\n".join(lines)


def _resources_line(spec, options, have: dict[str, float]) -> str:
    cpus = spec.resources.cpus
    gpus = options.gpus_per_trial if options.gpus_per_trial is not None else spec.resources.gpus
    fits = [have["CPU"] // cpus if cpus else float("inf"), have["GPU"] // gpus if gpus else float("inf")]
    at_once = min(*fits, spec.search.max_concurrent or float("inf"))
    return (f"resources: each trial asks for {cpus:g} CPU(s) and {gpus:g} GPU(s); this machine has "
            f"{have['CPU']:g} CPU(s) and {have['GPU']:g} GPU(s): up to {at_once:g} trial(s) at once")


def _sets(items: list[str]) -> dict[str, object]:
    """``--set KEY=VALUE`` arguments as a mapping, values read as YAML."""
    sets = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. prune_filters.amount=0.5")
        sets[key.strip()] = _scalar(key.strip(), value)
    return sets


def _scalar(key: str, text: str):
    """A --set value as the search-space YAML would read it (1e-3 a number, [a, b] a list)."""
    from gansearch.config import parse_yaml

    return parse_yaml(text, f"--set {key}")


def _trial(args: argparse.Namespace) -> int:
    from gansearch.search.spec import load_spec
    from gansearch.search.trial import run_trial
    from gansearch.train.loop import ProgressBar

    knobs = _sets(args.set)
    spec = load_spec(args.space, overrides=knobs)
    teacher = args.teacher
    if teacher is None:
        if spec.teacher.checkpoint is not None:
            teacher = spec.resolve(spec.teacher.checkpoint)
        else:
            from gansearch.search.folder import SweepLock
            from gansearch.search.sweep import SweepOptions, sweep_folder
            from gansearch.search.teacher import prepare_teacher

            folder = sweep_folder(spec, SweepOptions())
            with SweepLock(folder.parent, folder.name):  # the sweep's own teacher, trained once
                teacher = prepare_teacher(spec, folder)

    def report(metrics, _checkpoint) -> None:
        shown = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                          for k, v in metrics.items())
        print(f"[{metrics.get('step_name', 'final')}] {shown}", flush=True)

    from gansearch.search.teacher import describe_data, read_teacher

    read = read_teacher(teacher, trust_code=spec.teacher.trust_code, data=spec.data)
    print(f"teacher {teacher} ({read.family.name}); {describe_data(read.family, read.data)}", flush=True)
    result = run_trial(spec, knobs, teacher, args.out, report, device=args.device,
                       callbacks=[ProgressBar("fine-tune")])
    print(f"student written to {result['student_file']} (samples: {result['samples_file']})")
    return 0


def _train(args: argparse.Namespace) -> int:
    from gansearch.config import load_yaml
    from gansearch.families.teacher import parse_teacher_config, train_teacher

    raw = load_yaml(args.config)
    for key in ("device", "seed"):
        if getattr(args, key) is not None:
            raw[key] = getattr(args, key)
    cfg = parse_teacher_config(raw, str(args.config))
    out = args.out or Path(cfg.out or Path("runs") / "teachers" / args.config.stem)
    ckpt = train_teacher(cfg, out)
    print(f"teacher written to {out / 'teacher.pt'} (samples: {out / 'samples.png'})")
    print(_profile_text(ckpt.generator, size=cfg.data.image_size))
    return 0


def _import(args: argparse.Namespace) -> int:
    from gansearch.checkpoint import Checkpoint, save_checkpoint
    from gansearch.config import from_dict
    from gansearch.data.config import DataConfig
    from gansearch.families import get
    from gansearch.families.importers import import_generator, teacher_meta

    if args.out.exists():
        raise ConfigError(f"--out {args.out} exists; remove it or write the teacher elsewhere")
    options = {"generator": args.generator, "ngf": args.ngf, "norm": args.norm, "dropout": args.dropout,
               "discriminator": args.discriminator, "module": args.module, "input": args.input,
               "kwargs": _mapping("--kwargs", args.kwargs)}
    data = _mapping("--data", args.data) if args.data else None
    train = _mapping("--train", args.train)
    imported = import_generator(args.format, args.weights, **options)
    family = get(imported.model, imported.generator.config)
    if data is not None:
        family.check_data(from_dict(DataConfig, data, "--data"), "--data source")
    from_dict(family.train_config, train, "--train")
    save_checkpoint(args.out, Checkpoint(imported.model, imported.generator, imported.discriminator,
                                         meta=teacher_meta(imported, data, train)))
    print(f"imported {args.weights} as a {imported.model} teacher: {args.out}")
    for note in imported.notes:
        print(f"note: {note}")
    if imported.discriminator is None:
        print("note: no discriminator came with it: steps that train the student (finetune, distill, "
              "slim, regan) build a fresh one of the family's kind, sized to the data, and train it with "
              "the student")
    print(_profile_text(imported.generator, runs=0))
    trust = ", trust_code: true" if family.needs_code else ""
    print(f"use it in a search space as   teacher: {{checkpoint: {args.out}{trust}}}"
          + ("" if data else "   with data: (what to compress it on)"))
    return 0


def _mapping(flag: str, text: str) -> dict:
    from gansearch.config import parse_yaml

    value = parse_yaml(text, flag)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{flag}: expected a YAML mapping such as '{{key: value}}', got {text[:60]!r}")
    return value


def _profile(args: argparse.Namespace) -> int:
    from gansearch.checkpoint import load_checkpoint
    from gansearch.config import check_range
    from gansearch.train.loop import resolve_device

    check_range("--batch", args.batch, 1)
    check_range("--runs", args.runs, 0)
    if args.size is not None:
        check_range("--size", args.size, 4)
    ckpt = load_checkpoint(args.checkpoint, trust_code=args.trust_code)
    generator = ckpt.generator.to(resolve_device(args.device))
    print(_profile_text(generator, size=args.size, batch=args.batch, runs=args.runs,
                        layers=args.layers, norm_macs=args.norm_macs))
    return 0


def _profile_text(generator, *, size=None, batch=1, runs=20, layers=False, norm_macs=False) -> str:
    from gansearch.families import example_input
    from gansearch.metrics.cost import human, profile

    inputs = example_input(generator, batch, size)
    cost = profile(generator, inputs, latency_runs=runs, norm_macs=norm_macs)
    shape = " + ".join("x".join(map(str, t.shape)) for t in inputs[:1]) + (
        f" (+{len(inputs) - 1} more)" if len(inputs) > 1 else "")
    text = f"{type(generator).__name__} on input {shape}\n{cost.summary()}"
    if layers:
        rows = [f"  {layer.name or '(model)':<40} {layer.op:<15} {human(layer.macs):>9}"
                for layer in cost.layers]
        text += "\nper operator:\n" + "\n".join(rows)
    return text


if __name__ == "__main__":
    raise SystemExit(main())
