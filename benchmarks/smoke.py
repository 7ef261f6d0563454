"""The ``--smoke`` flag every benchmark takes: a tiny run that only shows the benchmark still works.

A smoke run starts the benchmark, measures at a size small enough for the test suite
(``tests/test_benchmarks_smoke.py``) and prints its ratios; its figures mean nothing.
"""

import argparse


def add_smoke_flag(parser: argparse.ArgumentParser, **tiny) -> None:
    """Add ``--smoke``, which replaces the options named in ``tiny`` by their tiny values."""
    sizes = " ".join(f"--{name.replace('_', '-')} {value}" for name, value in tiny.items())
    parser.add_argument(
        "--smoke",
        action="store_const",
        const=tiny,
        default=None,
        help=f"a tiny run ({sizes}) that checks the benchmark starts, measures and prints its ratios",
    )


def apply_smoke(args: argparse.Namespace) -> argparse.Namespace:
    """Return ``args`` with the tiny sizes in place when ``--smoke`` was given."""
    for name, value in (args.smoke or {}).items():
        setattr(args, name, value)
    return args
