"""A whole scrub: index the export, evaluate every patient's charges, sort the rows, total them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smart_app.scrub.batch_gc import batch_gc
from smart_app.scrub.engine import Period
from smart_app.scrub.errors import ScrubServerError
from smart_app.scrub.ndjson import ExportIndex, index_export
from smart_app.scrub.parallel import PARTITION_CHARGES, run_dask, run_pool, run_serial
from smart_app.scrub.rows import DiskRows, ListRows
from smart_app.scrub.tally import Tally

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
        with batch_gc():
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

    A row store kept its tally as the rows came in (no second pass over rows on disk); other rows are
    counted in one pass."""
    tally = rows.tally if isinstance(rows, ListRows | DiskRows) else Tally.of(rows)
    return tally.summary(period, rules_version)


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
