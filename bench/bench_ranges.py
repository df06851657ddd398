"""Time the whole-number range check (``out_of_range``) that holds at any length, next to the float-only one.

    .venv/bin/python bench/bench_ranges.py [--cells 100000] [--repeat 5]

The check ``schemas.py`` runs on every INTEGER and epoch column (deviceId, score, seconds, times, vdnId,
workNo, call_from …). Before issue 10 it was ``pd.to_numeric`` alone, which turns a text of thousands of
digits into NaN and let it pass; now texts of up to 15 characters still go through ``pd.to_numeric``
(exact below 2**53) and only longer ones are compared digit by digit (``numbers.py``). Three lines, each
the best of ``--repeat`` over the same cells: the float-only check (the comparison, wrong on long texts),
the check as shipped, and every cell compared as digits (what the fast path saves). Claim: the shipped
check stays within 3x of the float-only one on ordinary cells and refuses every long one.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from batchops.catalogue import CALLED_ROUTE
from batchops.checking.numbers import whole_within
from batchops.checking.schemas import _checks_for

RESULTS = Path(__file__).parent / "RESULTS.ranges.md"
LOW, HIGH = 1, 2_147_483_647  # deviceId's range


def float_only(s: pd.Series) -> pd.Series:
    """The check before issue 10: ``pd.to_numeric``, NaN taken for "not a number"."""
    n = pd.to_numeric(s, errors="coerce")
    return n.isna() | ((n >= LOW) & (n <= HIGH))


def all_digits(s: pd.Series) -> pd.Series:
    """Every cell compared as digits, no fast path."""
    return s.map(lambda t: whole_within(t, LOW, HIGH) is not False).astype(bool)


def best(fn: Callable[[pd.Series], pd.Series], s: pd.Series, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(s)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    random.seed(1)
    cells = [str(random.randint(1, 3_000_000_000)) for _ in range(args.cells)]
    s = pd.Series(cells + ["9" * 10_000, "-" + "9" * 30])
    shipped = next(c for c in _checks_for(CALLED_ROUTE.field("deviceId")) if c.name == "out_of_range")._check_fn
    rows = [("float only (before issue 10)", float_only), ("as shipped", shipped), ("every cell as digits", all_digits)]
    timed = {name: best(fn, s, args.repeat) for name, fn in rows}
    refused = {name: list(fn(s).tail(2)) == [False, False] for name, fn in rows}
    lines = [
        f"## ranges: the whole-number range check over {args.cells:,} cells plus two of 10,000 and 31 characters",
        "",
        f"| check | best of {args.repeat} | refuses the long ones |",
        "|---|---|---|",
        *(f"| {name} | {timed[name] * 1000:.1f} ms | {'yes' if refused[name] else 'no'} |" for name, _ in rows),
        "",
        (f"Ratio shipped / float only: {timed['as shipped'] / timed['float only (before issue 10)']:.1f}x "
         "(target <= 3x)."),
        "",
        (f"Command: `.venv/bin/python bench/bench_ranges.py --cells {args.cells} --repeat {args.repeat}`. "
         f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
         f"pandas {pd.__version__}; load average before the run: {load:.1f}."),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
