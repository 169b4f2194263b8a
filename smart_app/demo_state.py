"""Where a running ``smart-edu demo`` keeps its store, for ``smart-edu audit`` and ``smart-edu outbox``.

Why: the demo's store lives in its data folder (a fresh temporary one by default), so the commands an operator
tries next, in another terminal, would otherwise read the instance folder's store, a different and usually
empty one. The demo writes a small state file (its pid and store URL) into the app's instance folder while
it runs and removes it on stop; the commands use it only when ``SMART_EDU_DATABASE_URL`` is unset and the pid
is alive, and say so.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

STATE_NAME = "demo-store.json"


def instance_folder() -> Path:
    """The instance folder Flask gives the ``smart_app`` package (``instance/`` in a checkout)."""
    from flask import Flask

    return Path(Flask("smart_app", instance_relative_config=True).instance_path)


def record(store_url: str, folder: Path | None = None) -> Path:
    """Say where this process's store is; returns the state file (give it to ``forget`` on stop)."""
    folder = folder or instance_folder()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / STATE_NAME
    temporary = path.with_name(f".{STATE_NAME}.{os.getpid()}")
    temporary.write_text(json.dumps({"pid": os.getpid(), "database_url": store_url}), encoding="utf-8")
    temporary.replace(path)  # a reader never sees half a file
    return path


def forget(path: Path) -> None:
    """Remove the state file if it is still this process's (a second demo may have taken it over)."""
    state = _read(path)
    if state is not None and state[0] == os.getpid():
        path.unlink(missing_ok=True)


def running_demo_store(folder: Path | None = None) -> str | None:
    """The store URL of a demo that is running now, else None (a stale file is ignored)."""
    state = _read((folder or instance_folder()) / STATE_NAME)
    if state is None or not _alive(state[0]):
        return None
    return state[1]


def _read(path: Path) -> tuple[int, str] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    pid, url = data.get("pid"), data.get("database_url")
    if isinstance(pid, int) and not isinstance(pid, bool) and isinstance(url, str) and url:
        return pid, url
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return pid > 0
