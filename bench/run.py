"""Benchmarks: how fast the desk is against the raw engine, as ratios measured in one run.

    python bench/run.py [--quick] [--json FILE] [--only 1,3,...] [--keep]

Prints a table and, with --json, writes one JSON object: a key per measurement, each with
``value``, ``baseline``, ``ratio``, ``target`` and ``met`` (and ``unit``, ``title``, ``details``).
These machines are noisy: every figure is set against a baseline measured in the same run,
interleaved where it can be. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import forecast_item
import load as load_test
import measures
from measures import FULL, QUICK, Result

from supportdesk.engine.working_time.clock import clock

ITEMS = {
    1: "lifecycle",
    2: "history",
    3: "store",
    4: "timers",
    5: "scale-out",
    6: "replay",
    7: "memory",
    8: "search",
    9: "load (PostgreSQL, gunicorn, workers, locust)",
    10: "concurrency (PostgreSQL, 1-8 clients)",
    11: "forecast backtest",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (about ten minutes)")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--only", help="comma-separated item numbers, e.g. 1,3 (6 runs 1 too)")
    parser.add_argument("--keep", action="store_true", help="keep the stores (printed) instead of deleting them")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("bench").setLevel(logging.INFO)  # the engine's and SpiffWorkflow's logs stay quiet
    sizes = QUICK if args.quick else FULL
    wanted = sorted({int(n) for n in args.only.split(",")}) if args.only else sorted(ITEMS)
    folder = Path(tempfile.mkdtemp(prefix="supportdesk-bench-"))
    log = logging.getLogger("bench")
    log.info("%s run, stores in %s", "quick" if args.quick else "full", folder)
    results: list[Result] = []
    failed: dict[int, str] = {}
    started = time.monotonic()
    lifecycle = lifecycle_desk = None
    try:
        for item in wanted:
            log.info("item %s: %s", item, ITEMS[item])
            item_started, before, load = time.monotonic(), len(results), round(os.getloadavg()[0], 2)
            try:
                if item in (1, 6) and lifecycle is None:
                    lifecycle, lifecycle_desk = measures.lifecycle_throughput(sizes, folder)
                    if 1 in wanted:
                        results.append(lifecycle)
                if item == 2:
                    results.append(measures.history_cost(sizes, folder))
                elif item == 3:
                    results.extend(measures.store_scale(sizes, folder))
                elif item == 4:
                    results.append(measures.timer_punctuality(sizes, folder))
                elif item == 5:
                    results.append(measures.scale_out(sizes, folder))
                elif item == 6:
                    results.append(measures.replay_rate(lifecycle, lifecycle_desk, sizes))
                elif item == 7:
                    results.append(measures.memory(sizes, folder))
                elif item == 8:
                    results.extend(measures.search_scale(sizes, folder))
                elif item == 11:
                    results.extend(forecast_item.forecast_backtest_figures(args.quick, folder))
                elif item == 9 or (item == 10 and 9 not in wanted):  # one production set-up for both
                    loads = load_test.QUICK if args.quick else load_test.FULL
                    results.extend(load_test.run(loads, folder / "load", tuple(n for n in (9, 10) if n in wanted)))
            except Exception as exc:  # one failed measurement must not lose the others (it is logged)
                log.exception("item %s failed", item)
                failed[item] = f"{exc.__class__.__name__}: {exc}"
            finally:
                clock.use_system_time()
            for result in results[before:]:  # other work on the machine shows in every figure
                result.details.setdefault("load_average_1min_at_start", load)
            log.info("item %s took %.0f s", item, time.monotonic() - item_started)
    finally:
        if lifecycle_desk is not None:
            lifecycle_desk.close()
        if args.keep:
            log.info("stores kept in %s", folder)
        else:
            shutil.rmtree(folder, ignore_errors=True)
    elapsed = time.monotonic() - started
    print(table(results, failed))
    print(f"\n{'quick' if args.quick else 'full'} run, {elapsed / 60:.1f} min, {_machine()}")
    if args.json:
        figures = {result.key: result.as_json() for result in results}
        for item, error in failed.items():
            figures[f"failed_item_{item}"] = {
                "value": None,
                "baseline": None,
                "ratio": None,
                "target": None,
                "met": False,
                "error": error,
            }
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 1 if failed else 0


def table(results: list[Result], failed: dict[int, str]) -> str:
    rows = [("measurement", "value", "baseline", "ratio", "target", "met")]
    for r in results:
        rows.append(
            (
                r.title,
                f"{_figure(r.value)} {r.unit}",
                f"{_figure(r.baseline)} {r.unit}",
                f"{r.ratio:.2f}",
                r.target,
                "yes" if r.met else "NO",
            )
        )
    for item, error in failed.items():
        rows.append((f"{item}. {ITEMS[item]}", "failed", "", "", error[:60], "NO"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |" for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def _figure(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if value < 10 else f"{value:.1f}"


def _machine() -> str:
    return f"{os.cpu_count()} CPU(s), Python {platform.python_version()}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"


if __name__ == "__main__":
    sys.exit(main())
