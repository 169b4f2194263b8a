"""Where the shipped templates and launch profiles are, in a source checkout and in an installed wheel.

The wheel carries them as the packages ``smart_app.templates`` and ``smart_app.launch_config`` (pyproject
``package-dir``); an editable install does not map those names, so the repository folders are the fallback.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parent.parent


def _package_dir(package: str, repo_folder: str) -> Path:
    try:
        found = Path(str(importlib.resources.files(package)))
        if found.is_dir():
            return found
    except ModuleNotFoundError:
        pass
    return _REPO_ROOT / repo_folder


def templates_dir() -> Path:
    return _package_dir("smart_app.templates", "templates")


def launch_config_dir() -> Path:
    return _package_dir("smart_app.launch_config", "launch_config")


def static_dir() -> Path:
    return Path(__file__).resolve().parent / "static"
