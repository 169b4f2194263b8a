"""The ``smart-edu`` console script (DESIGN.md §4): parses arguments, then hands over to a command module.

Command modules are imported lazily so that ``smart-edu check`` never pays for Flask or the sandbox.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smart-edu", description="Patient-education billing checks for SMART on FHIR"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo", help="start the sandbox EHR and the app on loopback and print the launcher URL"
    )
    demo.add_argument("--app-port", type=int, default=0, help="0 = a free port")
    demo.add_argument("--ehr-port", type=int, default=0, help="0 = a free port")
    demo.add_argument("--data-dir", default=None, help="where the demo keeps its database and keys")
    demo.set_defaults(module="smart_app.commands.demo")

    serve = sub.add_parser("serve", help="run the app for real use (gunicorn)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="default: 8000")
    serve.add_argument("--workers", type=int, default=2, help="gunicorn worker processes (default: 2)")
    serve.set_defaults(module="smart_app.commands.serve")

    check = sub.add_parser(
        "check",
        help="evaluate one documented service against a FHIR Bundle",
        epilog="exit 0 billable, 1 blocked, 2 bad input (one line on stderr)",
    )
    check.add_argument("--bundle", required=True, help="FHIR Bundle JSON holding the patient's context")
    check.add_argument(
        "--service", required=True, help="ServiceRecord or VisitRecord JSON (rules-contract §1, DESIGN.md §4)"
    )
    check.add_argument("--as-of", default=None, help="evaluate as of this date (YYYY-MM-DD)")
    check.add_argument("--format", choices=("json", "text"), default="json")
    check.set_defaults(module="smart_app.commands.check")

    st = sub.add_parser(
        "sandbox-test",
        help="run reads, evaluation and write path against an open FHIR server",
        epilog="exit 0 billable (and written), 1 blocked (nothing written), 2 bad input, 3 server error; "
        "SMART_EDU_BEARER_TOKEN for a protected server",
    )
    st.add_argument("--fhir-base", required=True, help="the FHIR base URL, e.g. http://localhost:9000/fhir")
    st.add_argument("--patient", required=True, help="Patient id on that server")
    st.add_argument("--encounter", default=None, help="Encounter id (its date, diagnoses and charges)")
    st.add_argument(
        "--service", default=None, help="ServiceRecord or VisitRecord JSON; default: a sample 98960 session"
    )
    st.add_argument("--profile", default=None, help="launch profile name (write-back strategy and quirks)")
    st.add_argument("--write", action="store_true", help="send the writes (default: print them)")
    st.set_defaults(module="smart_app.commands.sandbox_test")

    outbox = sub.add_parser(
        "outbox",
        help="list or retry failed writes",
        epilog="store: the app's, SMART_EDU_DATABASE_URL, else smart_edu.sqlite in the app's instance folder "
        "(named on stderr); exit 0 all sent, 2 unknown id, 3 some still failing",
    )
    outbox.add_argument("action", choices=("list", "retry"))
    outbox.add_argument("ids", nargs="*", help="entries to retry (default: all pending)")
    outbox.set_defaults(module="smart_app.commands.outbox")

    audit = sub.add_parser(
        "audit",
        help="print the audit log (signatures, writes, acknowledged warnings, CDS feedback)",
        epilog="store: the same as outbox's (named on stderr); exit 0, 2 bad input (one line on stderr)",
    )
    audit.add_argument("--since", default=None, help="from this UTC day on (YYYY-MM-DD)")
    audit.add_argument("--until", default=None, help="up to and including this UTC day (YYYY-MM-DD)")
    audit.add_argument("--patient", default=None, help="only this Patient id")
    audit.add_argument("--encounter", default=None, help="only this Encounter id")
    audit.add_argument("--action", default=None, help="only this action, e.g. signed, write-result")
    audit.add_argument("--format", choices=("text", "csv", "json"), default="text", help="json = JSON lines")
    audit.add_argument("--feedback", action="store_true", help="the per-service CDS card feedback summary")
    audit.set_defaults(module="smart_app.commands.audit")

    scrub = sub.add_parser(
        "scrub",
        help="the biller's pre-bill audit of every charge in a period (Bulk Data export / NDJSON)",
        epilog="writes scrub.json, scrub.csv, scrub.html into --out; exit 0 nothing blocked, 1 some charge "
        "blocked, 2 bad input (file and line named on stderr), 3 server error",
    )
    source = scrub.add_mutually_exclusive_group(required=True)
    source.add_argument("--ndjson", metavar="DIR", help="a folder of Bulk Data NDJSON files (<Type>.ndjson)")
    source.add_argument(
        "--fhir-base", metavar="URL", help="fetch from this FHIR server: Bulk Data $export, else paged search"
    )
    scrub.add_argument(
        "--profile", default=None, help="launch profile whose [backend] table authorizes --fhir-base"
    )
    scrub.add_argument("--since", default=None, help="first service day to report (YYYY-MM-DD)")
    scrub.add_argument("--until", default=None, help="last service day to report (YYYY-MM-DD)")
    scrub.add_argument("--out", default=None, help="output folder (default: ./scrub-<today>)")
    scrub.add_argument(
        "--format", default="html,csv,json", help="any of html,csv,json, comma-separated (default: all)"
    )
    scrub.add_argument("--workers", type=int, default=1, help="processes on this machine (default: 1)")
    scrub.add_argument(
        "--scheduler", default=None, metavar="ADDRESS", help="an existing Dask scheduler, tcp://..."
    )
    scrub.set_defaults(module="smart_app.commands.scrub")

    purge = sub.add_parser(
        "purge",
        help="delete what the retention settings say has expired (meant for a scheduler)",
        epilog="SMART_EDU_RETENTION_DAYS (default 30), SMART_EDU_AUDIT_RETENTION_DAYS (default 2557); "
        "store: the same as outbox's (named on stderr); prints the count per kind; exit 0, 2 error",
    )
    purge.add_argument("--dry-run", action="store_true", help="count what would be deleted, delete nothing")
    purge.set_defaults(module="smart_app.commands.purge")

    db = sub.add_parser(
        "db",
        help="the store's schema: apply the migrations (at deploy time) or show where it is",
        epilog="store: the same as outbox's (named on stderr). upgrade: exit 0 at head (PostgreSQL: under an "
        "advisory lock, safe from every instance at once), 2 error; current: exit 0 at head, 1 an upgrade "
        "is needed (or the store is newer than this version), 2 error",
    )
    db.add_argument("action", choices=("upgrade", "current"))
    db.set_defaults(module="smart_app.commands.db")

    rules = sub.add_parser(
        "rules", help="the rule data's periods: what is in force, what expires, what is missing"
    )
    rules_sub = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    rules_status = rules_sub.add_parser(
        "status",
        help="code sets, fee-schedule years, telehealth windows, thresholds: in force, expiring, missing",
        epilog="exit 0; 1 something in force on the date has no data; 2 bad input",
    )
    rules_status.add_argument("--as-of", default=None, help="as of this date (YYYY-MM-DD; default today)")
    rules_status.add_argument("--format", choices=("text", "json"), default="text")
    rules_status.set_defaults(module="smart_app.commands.rules")
    return parser


EXIT_CLOSED_PIPE = 128 + 13  # what a shell reports for a command stopped by SIGPIPE (`... | head`)


def main(argv: Sequence[str] | None = None) -> int:
    from smart_app.settings import SettingsError, load_settings, use_rule_settings

    args = build_parser().parse_args(argv)
    try:  # a bad setting stops every command up front, with the variable's name
        use_rule_settings(load_settings())
    except SettingsError as exc:
        print(f"smart-edu {args.command}: {exc}", file=sys.stderr)
        return 2
    module = importlib.import_module(args.module)
    try:
        code = int(module.run(args) or 0)
        sys.stdout.flush()
    except BrokenPipeError:
        return _closed_pipe()
    return code


def _closed_pipe() -> int:
    """The reader went away (``smart-edu audit | head``): stop quietly, as ``cat`` does, with no traceback.

    stdout is pointed at /dev/null so the interpreter's final flush cannot raise the same error again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return EXIT_CLOSED_PIPE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
