"""``smart-edu serve``: the app under gunicorn, the production WSGI server (DESIGN.md §5).

Refuses to start without ``SMART_EDU_SECRET_KEY``: with a random key each worker would sign CSRF tokens
differently and every restart would invalidate open forms. The app is built once in the master (``preload``),
so a bad launch profile stops the start with its message instead of crashing every worker.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):
    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.application


def gunicorn_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "bind": f"{args.host}:{args.port}",
        "workers": max(1, int(args.workers)),
        "worker_class": "gthread",
        "threads": 4,
        "timeout": 60,
        "preload_app": True,
        "accesslog": "-",
        # The access log never shows query strings: /callback carries the authorization code.
        "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms',
    }


def run(args: argparse.Namespace) -> int:
    if not os.environ.get("SMART_EDU_SECRET_KEY"):
        print(
            "smart-edu serve: SMART_EDU_SECRET_KEY is not set. Set it to a long random value "
            '(e.g. python -c "import secrets; print(secrets.token_hex(32))") and start again.',
            file=sys.stderr,
        )
        return 2
    from smart_app import create_app
    from smart_app.profiles import ProfileError

    try:
        app = create_app()
    except ProfileError as exc:
        print(f"smart-edu serve: launch profiles: {exc}", file=sys.stderr)
        return 2
    _Gunicorn(app, gunicorn_options(args)).run()
    return 0
