"""A throwaway PostgreSQL cluster for the e2e tests: ``initdb`` + ``pg_ctl`` on a free loopback port (as
the ``postgres`` user when run as root), removed afterwards. Skipped, with the reason, where PostgreSQL's
binaries or the ``psycopg`` driver are missing: CI installs ``postgresql`` (apt) and ``psycopg[binary]`` (the
``postgres`` and ``dev`` extras)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _pg_bin(name: str) -> str | None:
    """On PATH, else where Debian's ``postgresql`` package puts it (``/usr/lib/postgresql/<major>/bin``)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    return str(candidates[-1]) if candidates else None


def _missing() -> str | None:
    if not (_pg_bin("initdb") and _pg_bin("pg_ctl")):
        return "PostgreSQL's initdb/pg_ctl are not installed (apt-get install postgresql)"
    if importlib.util.find_spec("psycopg") is None:
        return "the psycopg driver is not installed (pip install 'psycopg[binary]', in the dev extra)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: initdb refuses root"
    return None


def _as_postgres(*argv: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else list(argv)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def throwaway_cluster() -> Iterator[str]:
    """The URL of a fresh cluster's ``postgres`` database, for as long as the block runs."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="smart-edu-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data, port = root / "data", _free_port()

    def run(argv: list[str]) -> None:
        subprocess.run(argv, check=True, capture_output=True, timeout=120)

    initdb, pg_ctl = str(_pg_bin("initdb")), str(_pg_bin("pg_ctl"))
    run(_as_postgres(initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale"))
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(_as_postgres(pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_postgres(pg_ctl, "-D", str(data), "-m", "immediate", "stop"), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def new_database(pg_url: str, name: str) -> str:
    """A fresh empty database in the cluster; its URL."""
    from sqlalchemy import create_engine

    engine = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return pg_url.rsplit("/", 1)[0] + "/" + name
