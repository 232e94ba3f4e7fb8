"""The ``gansearch`` command line.

Every verb parses its input into typed configs first; an error in input prints one line
(``gansearch: error: ...``) and exits with status 2, before any work or any file is written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gansearch.errors import GansearchError


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except GansearchError as exc:
        print(f"gansearch: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gansearch: interrupted", file=sys.stderr)
        return 130


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

    pr = verbs.add_parser("profile", help="measure a checkpoint's generator: parameters, MACs, "
                                          "storage, activation memory, latency")
    pr.add_argument("checkpoint", type=Path)
    pr.add_argument("--size", type=int, help="input side for image-to-image generators "
                                             "(default 256)")
    pr.add_argument("--batch", type=int, default=1)
    pr.add_argument("--runs", type=int, default=20, help="timed forward passes (0: no timing)")
    pr.add_argument("--device", default="cpu")
    pr.add_argument("--layers", action="store_true", help="also print the per-operator MACs")
    pr.set_defaults(run=_profile)
    return p


def _train(args: argparse.Namespace) -> int:
    from gansearch.config import load_yaml
    from gansearch.train.teacher import parse_teacher_config, train_teacher

    raw = load_yaml(args.config)
    for key in ("device", "seed"):
        if getattr(args, key) is not None:
            raw[key] = getattr(args, key)
    cfg = parse_teacher_config(raw, str(args.config))
    out = args.out or Path(cfg.out or Path("runs") / "teachers" / args.config.stem)
    ckpt = train_teacher(cfg, out)
    print(f"teacher written to {out / 'teacher.pt'} (samples: {out / 'samples.png'})")
    print(_profile_text(ckpt.generator, size=cfg.data.image_size if cfg.model == "resnet" else None))
    return 0


def _profile(args: argparse.Namespace) -> int:
    from gansearch.checkpoint import load_checkpoint
    from gansearch.config import check_range
    from gansearch.train.loop import resolve_device

    check_range("--batch", args.batch, 1)
    check_range("--runs", args.runs, 0)
    if args.size is not None:
        check_range("--size", args.size, 4)
    ckpt = load_checkpoint(args.checkpoint)
    generator = ckpt.generator.to(resolve_device(args.device))
    print(_profile_text(generator, size=args.size, batch=args.batch, runs=args.runs,
                        layers=args.layers))
    return 0


def _profile_text(generator, *, size=None, batch=1, runs=20, layers=False) -> str:
    from gansearch.metrics.cost import human, profile
    from gansearch.models import example_input

    inputs = example_input(generator, batch, size)
    cost = profile(generator, inputs, latency_runs=runs)
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
