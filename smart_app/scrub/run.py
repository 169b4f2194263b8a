"""A whole scrub: index the export, evaluate every patient's charges, sort the rows, total them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smart_app.scrub.engine import Period
from smart_app.scrub.errors import ScrubServerError
from smart_app.scrub.ndjson import ExportIndex, index_export
from smart_app.scrub.parallel import PARTITION_CHARGES, run_dask, run_pool, run_serial
from smart_app.scrub.rows import DiskRows, ListRows

RowStore = ListRows | DiskRows


@dataclass(frozen=True)
class Options:
    period: Period = field(default_factory=Period)
    workers: int = 1
    scheduler: str | None = None
    partition_charges: int = PARTITION_CHARGES


def execute(
    index: ExportIndex,
    options: Options,
    done: Callable[[int], None] = lambda n: None,
    rows: RowStore | None = None,
) -> tuple[str, RowStore]:
    """Scrub every patient of the index into ``rows`` (a list in memory unless given); the rules version."""
    store: RowStore = rows if rows is not None else ListRows()
    try:
        if options.scheduler:
            versions = run_dask(
                index, options.period, done, store.add, options.scheduler, options.partition_charges
            )
        elif options.workers > 1:
            versions = run_pool(
                index, options.period, done, store.add, options.workers, options.partition_charges
            )
        else:
            versions = run_serial(index, options.period, done, store.add)
    finally:
        index.close()
    if len(versions) > 1:
        raise ScrubServerError(f"workers ran different rule data ({', '.join(sorted(versions))})")
    return next(iter(versions), ""), store


def summarise(rows: Iterable[dict[str, Any]], period: Period, rules_version: str) -> dict[str, Any]:
    """scrub.json's summary (DESIGN.md §4): counts, revenue at risk (blocked charges' estimates), by rule.

    One pass over the rows, so it works on rows read back from disk."""
    charges = billable = blocked = warned = 0
    low = high = 0.0
    by_rule: Counter[str] = Counter()
    first = last = None
    for row in rows:
        charges += 1
        billable += bool(row["billable"])
        severities = {f["severity"] for f in row["findings"]}
        by_rule.update(f["rule"] for f in row["findings"])
        if "block" in severities:
            blocked += 1
            if row.get("estimate"):
                low += row["estimate"]["low"]
                high += row["estimate"]["high"]
        elif "warn" in severities:
            warned += 1
        if row["date"]:
            first = row["date"] if first is None else min(first, row["date"])
            last = row["date"] if last is None else max(last, row["date"])
    return {
        "charges": charges,
        "billable": billable,
        "blocked": blocked,
        "warned": warned,
        "at_risk": {"currency": "USD", "low": round(low, 2), "high": round(high, 2)},
        "by_rule": dict(sorted(by_rule.items())),
        "period": [
            period.since.isoformat() if period.since else first,
            period.until.isoformat() if period.until else last,
        ],
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
    return {"summary": summarise(rows, options.period, version), "charges": list(rows)}
