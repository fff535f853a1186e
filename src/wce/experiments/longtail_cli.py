"""``wce longtail``: long-tailed training sets from real balanced data, nine methods, one report."""

from __future__ import annotations

import argparse
import sys
import time

from .methods import LONG_TAIL_METHODS

# A fresh folder in the current directory, like `wce compare`'s wce-report: a run inside a
# clone must not overwrite the committed reports/longtail.
DEFAULT_OUT = "wce-longtail"
# --quick: two data sets, one seed, fewer epochs (under 3 minutes on 2 cores).
QUICK = {"datasets": "digits,penbased", "seeds": 1, "epochs": 30}
FULL = {"datasets": "digits,penbased,optdigits,satimage,letter", "seeds": 3, "epochs": 60}


def _split(text: str) -> list:
    return [part.strip() for part in text.split(",") if part.strip()]


def _ratios(text: str) -> tuple:
    out = []
    for part in _split(text):
        try:
            out.append(float(part))
        except ValueError:
            raise ValueError(
                f"--imbalance-ratios takes numbers separated by commas; got {part!r}."
            ) from None
    if not out:
        raise ValueError(f"--imbalance-ratios needs at least one number (e.g. 10,100); got {text!r}.")
    return tuple(out)


def _command(args) -> int:
    from .longtail import LongTailConfig, report_from_directory, run, write_report

    if args.report_only:
        path = report_from_directory(args.out)
        print(f"rewrote {path} from the CSVs in {args.out}")
        return 0

    preset = QUICK if args.quick else FULL
    config = LongTailConfig(
        datasets=tuple(_split(args.datasets or preset["datasets"])),
        imbalance_ratios=_ratios(args.imbalance_ratios),
        seeds=args.seeds if args.seeds is not None else preset["seeds"],
        epochs=args.epochs if args.epochs is not None else preset["epochs"],
        methods=tuple(_split(args.methods)) if args.methods else LONG_TAIL_METHODS,
        beta=args.beta, gamma=args.gamma, tau=args.tau, threads=args.threads, out=args.out,
    ).validate()
    from ..reporting.files import check_output_dir

    check_output_dir(config.out)  # before any model trains
    start, cpu_start = time.perf_counter(), time.process_time()
    say = (lambda msg: print(msg, file=sys.stderr, flush=True)) if args.progress else None
    results, per_class = run(config, progress=say)
    command = (f"wce longtail --datasets {','.join(config.datasets)} --imbalance-ratios "
               f"{','.join(f'{r:g}' for r in config.imbalance_ratios)} --seeds {config.seeds} "
               f"--epochs {config.epochs} --methods {','.join(config.methods)} --beta "
               f"{config.beta:g} --gamma {config.gamma:g} --tau {config.tau:g} --out {config.out}")
    path = write_report(results, per_class, config.out, config,
                        seconds=time.perf_counter() - start,
                        cpu_seconds=time.process_time() - cpu_start, command=command)
    print(f"wrote {path}, results.csv, per_class.csv, error.png and shots.png in {config.out}")
    return 0


DESCRIPTION = (
    "Build long-tailed training sets from real balanced data sets (the larger classes "
    "subsampled to an imbalance ratio), train a small network with each long-tail method, "
    "and write one report of balanced and per-group test error."
)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "longtail", help="long-tailed multiclass comparison on real data",
        description=DESCRIPTION)
    p.add_argument("--datasets", help="comma-separated: digits, penbased, optdigits, satimage, "
                   f"letter (default {FULL['datasets']}; with --quick {QUICK['datasets']})")
    p.add_argument("--imbalance-ratios", default="10,100",
                   help="n_max / n_min, comma-separated (default 10,100)")
    p.add_argument("--seeds", type=int, help=f"default {FULL['seeds']} ({QUICK['seeds']} with --quick)")
    p.add_argument("--epochs", type=int, help=f"default {FULL['epochs']} ({QUICK['epochs']} with --quick)")
    p.add_argument("--methods", help="comma-separated subset of the methods (default all: "
                   f"{', '.join(LONG_TAIL_METHODS)})")
    p.add_argument("--beta", type=float, default=0.999, help="class-balanced beta (default 0.999)")
    p.add_argument("--gamma", type=float, default=1.0, help="focal gamma (default 1)")
    p.add_argument("--tau", type=float, default=1.0, help="logit adjustment tau (default 1)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--quick", action="store_true",
                   help="small preset for a smoke run: two data sets, one seed, 30 epochs "
                   "(about 30 s of CPU time, one core)")
    p.add_argument("--report-only", action="store_true",
                   help="rewrite report.md and the plots from the CSVs already in --out")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"report folder (default {DEFAULT_OUT})")
    p.add_argument("--no-progress", dest="progress", action="store_false",
                   help="do not print a line per trained model to stderr")
    p.set_defaults(func=_command)
