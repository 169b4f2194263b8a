"""``smart-edu scrub``: the biller's pre-bill audit of every charge in a period (DESIGN.md §4).

Exit 0 nothing blocked, 1 some charge blocked, 2 bad input (one line on stderr naming the file and line),
3 server error. A progress bar on a terminal (stderr), the summary on stdout.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from smart_app.scrub.engine import Period
from smart_app.scrub.errors import ScrubInputError, ScrubServerError
from smart_app.scrub.progress import progress_bar
from smart_app.scrub.report import write_reports

PROG = "smart-edu scrub"
FORMATS = ("html", "csv", "json")


def _day(value: str | None, flag: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ScrubInputError(f"{flag} {value!r} is not a date (YYYY-MM-DD)") from None


def _formats(value: str) -> list[str]:
    chosen = [f.strip().lower() for f in value.split(",") if f.strip()]
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise ScrubInputError(f"--format {value!r}: choose from {', '.join(FORMATS)} (comma-separated)")
    return list(dict.fromkeys(chosen))


def _options(args: argparse.Namespace) -> Any:
    from smart_app.scrub.run import Options

    period = Period(_day(args.since, "--since"), _day(args.until, "--until"))
    if period.since and period.until and period.since > period.until:
        raise ScrubInputError("--since is after --until")
    if args.workers < 1:
        raise ScrubInputError("--workers must be at least 1")
    return Options(period=period, workers=args.workers, scheduler=args.scheduler)


def _export_dir(args: argparse.Namespace, out: Path, options: Any) -> Path:
    """The folder to scrub: --ndjson as given, or what --fhir-base's export wrote under --out."""
    if args.ndjson:
        return Path(args.ndjson)
    from smart_app.scrub.fetch import fetch_export

    folder, errors = fetch_export(
        args.fhir_base, args.profile, out, options.period.since, options.period.until
    )
    for text in errors:
        print(f"{PROG}: the server reported: {text}", file=sys.stderr)
    return folder


def run(args: argparse.Namespace) -> int:
    from smart_app.scrub.ndjson import index_export
    from smart_app.scrub.rows import DiskRows
    from smart_app.scrub.run import execute, summarise

    try:
        formats = _formats(args.format)
        options = _options(args)
        out = Path(args.out or f"scrub-{date.today().isoformat()}")
        if args.profile and not args.fhir_base:
            raise ScrubInputError("--profile goes with --fhir-base")
        directory = _export_dir(args, out, options)
        index = index_export(directory)
        rows = DiskRows()  # the report's rows wait on disk: memory does not grow with the export
        try:
            with progress_bar(sum(index.charges.values())) as advance:
                version, _ = execute(index, options, advance, rows)
            document: dict[str, Any] = {"summary": summarise(rows, options.period, version), "charges": rows}
            out.mkdir(parents=True, exist_ok=True)
            written = write_reports(document, out, formats)
        finally:
            rows.close()
    except ScrubInputError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    except ScrubServerError as exc:
        print(f"{PROG}: server error: {exc}", file=sys.stderr)
        return 3
    _print_summary(document["summary"], written)
    return 1 if document["summary"]["blocked"] else 0


def _print_summary(summary: dict[str, Any], written: list[Path]) -> None:
    start, end = summary["period"]
    risk = summary["at_risk"]
    span = f"{start or '-'} to {end or '-'}"
    print(f"Scrub of {summary['charges']} charge(s), {span} (rules {summary['rules_version']})")
    print(f"  billable {summary['billable']}, blocked {summary['blocked']}, warned {summary['warned']}")
    print(f"  revenue at risk: {risk['currency']} {risk['low']:,.2f} to {risk['high']:,.2f}")
    top = sorted(summary["by_rule"].items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    if top:
        print("  most frequent findings: " + ", ".join(f"{rule} {count}" for rule, count in top))
    for path in written:
        print(f"  wrote {path}")
