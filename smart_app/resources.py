"""Where the shipped templates and launch profiles are, in a source checkout and in an installed wheel.

The wheel carries them inside the package as ``smart_app/templates`` and ``smart_app/launch_config``
(pyproject ``package-dir``); in a checkout (and an editable install) they are the repository's top-level
folders. The installed location wins, so a wheel never reads a checkout lying around.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_REPO_ROOT = _PACKAGE.parent


def _data_dir(name: str) -> Path:
    inside = _PACKAGE / name
    return inside if inside.is_dir() else _REPO_ROOT / name


def templates_dir() -> Path:
    return _data_dir("templates")


def launch_config_dir() -> Path:
    return _data_dir("launch_config")


def static_dir() -> Path:
    return _PACKAGE / "static"
