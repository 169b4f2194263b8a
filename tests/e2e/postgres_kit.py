"""A throwaway PostgreSQL cluster for end-to-end tests: ``initdb`` + ``pg_ctl`` on a free loopback port (as
the ``postgres`` user when run as root, since initdb refuses root), fsync off, removed afterwards.

``missing()`` names what is not installed (the tests skip with that reason); CI installs ``postgresql`` (apt)
and ``psycopg[binary]`` (the ``dev`` extra).
"""

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


def pg_bin(name: str) -> str | None:
    """On PATH, else where Debian's ``postgresql`` package puts it (``/usr/lib/postgresql/<major>/bin``)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    return str(candidates[-1]) if candidates else None


def missing() -> str | None:
    """Why a cluster cannot be started here, or None."""
    if not (pg_bin("initdb") and pg_bin("pg_ctl")):
        return "PostgreSQL's initdb/pg_ctl are not installed (apt-get install postgresql)"
    if importlib.util.find_spec("psycopg") is None:
        return "the psycopg driver is not installed (pip install 'psycopg[binary]', in the dev extra)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: initdb refuses root"
    return None


def as_postgres(*argv: str) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else list(argv)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def cluster(max_connections: int = 100) -> Iterator[str]:
    """Start a cluster; yields its SQLAlchemy URL (database ``postgres``, trust auth on loopback)."""
    root = Path(tempfile.mkdtemp(prefix="smart-edu-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    data, port = root / "data", free_port()

    def run(argv: list[str]) -> None:
        subprocess.run(argv, check=True, capture_output=True, timeout=120)

    initdb, pg_ctl = str(pg_bin("initdb")), str(pg_bin("pg_ctl"))
    run(as_postgres(initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale"))
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections={max_connections}"
    )
    run(as_postgres(pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(as_postgres(pg_ctl, "-D", str(data), "-m", "immediate", "stop"), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
