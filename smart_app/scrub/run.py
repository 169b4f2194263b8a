"""A whole scrub: index the export, evaluate every patient's charges, sort the rows, total them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smart_app.scrub.engine import Period
from smart_app.scrub.errors import ScrubServerError
from smart_app.scrub.ndjson import ExportIndex, index_export
from smart_app.scrub.parallel import PARTITION_CHARGES, Rows, run_dask, run_pool, run_serial


@dataclass(frozen=True)
class Options:
    period: Period = field(default_factory=Period)
    workers: int = 1
    scheduler: str | None = None
    partition_charges: int = PARTITION_CHARGES


def execute(
    index: ExportIndex, options: Options, done: Callable[[int], None] = lambda n: None
) -> tuple[str, Rows]:
    try:
        if options.scheduler:
            versions, rows = run_dask(
                index, options.period, done, options.scheduler, options.partition_charges
            )
        elif options.workers > 1:
            versions, rows = run_pool(index, options.period, done, options.workers, options.partition_charges)
        else:
            versions, rows = run_serial(index, options.period, done)
    finally:
        index.close()
    if len(versions) > 1:
        raise ScrubServerError(f"workers ran different rule data ({', '.join(sorted(versions))})")
    rows.sort(key=lambda r: (r["date"] or "", r["patient"], r["chargeitem"]))
    return next(iter(versions), ""), rows


def summarise(rows: Rows, period: Period, rules_version: str) -> dict[str, Any]:
    """scrub.json's summary (DESIGN.md §4): counts, revenue at risk (blocked charges' estimates), by rule."""
    blocked = [r for r in rows if any(f["severity"] == "block" for f in r["findings"])]
    warned = [
        r
        for r in rows
        if not any(f["severity"] == "block" for f in r["findings"])
        and any(f["severity"] == "warn" for f in r["findings"])
    ]
    by_rule = Counter(f["rule"] for r in rows for f in r["findings"])
    dates = sorted(r["date"] for r in rows if r["date"])
    start = period.since.isoformat() if period.since else (dates[0] if dates else None)
    end = period.until.isoformat() if period.until else (dates[-1] if dates else None)
    low = sum(r["estimate"]["low"] for r in blocked if r.get("estimate"))
    high = sum(r["estimate"]["high"] for r in blocked if r.get("estimate"))
    return {
        "charges": len(rows),
        "billable": sum(1 for r in rows if r["billable"]),
        "blocked": len(blocked),
        "warned": len(warned),
        "at_risk": {"currency": "USD", "low": round(low, 2), "high": round(high, 2)},
        "by_rule": dict(sorted(by_rule.items())),
        "period": [start, end],
        "rules_version": rules_version,
    }


def scrub_directory(
    directory: Path,
    options: Options,
    done: Callable[[int], None] = lambda n: None,
    *,
    index: ExportIndex | None = None,
) -> dict[str, Any]:
    """The report document (scrub.json) for a folder of NDJSON files."""
    index = index or index_export(directory)
    version, rows = execute(index, options, done)
    return {"summary": summarise(rows, options.period, version), "charges": rows}
