"""The list of standardized curricula the clinician can pick from (data, replaceable by a deployment).

The packaged list is ``smart_app/data/curricula.toml``; ``SMART_EDU_CURRICULA`` names a TOML file of the same
shape that replaces it. A malformed file fails loudly at first use rather than showing a half list.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any


class CurriculaError(ValueError):
    """The curricula file does not have the documented shape."""


@dataclass(frozen=True)
class Curriculum:
    id: str
    name: str
    topics: tuple[str, ...]
    codes: tuple[str, ...]  # empty: offered for every code
    source: str

    def offered_for(self, code: str | None) -> bool:
        return not self.codes or not code or code in self.codes


def _str_list(item: dict[str, Any], name: str, where: str) -> tuple[str, ...]:
    value = item.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise CurriculaError(f"{where}: {name} must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def parse_curricula(data: dict[str, Any]) -> tuple[Curriculum, ...]:
    """Validate the TOML document and build the curricula, in file order."""
    if not isinstance(data.get("version"), str):
        raise CurriculaError("version must be a string")
    items = data.get("curriculum")
    if not isinstance(items, list) or not items:
        raise CurriculaError("at least one [[curriculum]] table is required")
    out: list[Curriculum] = []
    seen: set[str] = set()
    for n, item in enumerate(items, start=1):
        where = f"curriculum #{n}"
        for name in ("id", "name", "source"):
            if not isinstance(item.get(name), str) or not item[name].strip():
                raise CurriculaError(f"{where}: {name} must be a non-empty string")
        unknown = set(item) - {"id", "name", "topics", "codes", "source"}
        if unknown:
            raise CurriculaError(f"{where}: unknown keys {sorted(unknown)}")
        if item["id"] in seen:
            raise CurriculaError(f"{where}: duplicate id {item['id']!r}")
        seen.add(item["id"])
        out.append(
            Curriculum(
                id=item["id"],
                name=item["name"].strip(),
                topics=_str_list(item, "topics", where),
                codes=_str_list(item, "codes", where),
                source=item["source"].strip(),
            )
        )
    return tuple(out)


@lru_cache(maxsize=4)
def _load(path: str | None) -> tuple[Curriculum, ...]:
    if path:
        raw = Path(path).read_bytes()
    else:
        raw = resources.files("smart_app").joinpath("data", "curricula.toml").read_bytes()
    return parse_curricula(tomllib.loads(raw.decode("utf-8")))


_deployment: list[Path | None] = [None]


def use_deployment_curricula(path: Path | None) -> None:
    """The deployment's list (``SMART_EDU_CURRICULA``; ``create_app`` passes it from the settings), or None
    for the packaged one. Like the rule data, one list per process: the form and the page both read it."""
    _deployment[0] = path


def curricula() -> tuple[Curriculum, ...]:
    """The deployment's curricula or the packaged list."""
    path = _deployment[0]
    return _load(str(path) if path else None)


def by_name(name: str | None) -> Curriculum | None:
    """The listed curriculum with this exact name, if the clinician picked one from the list."""
    if not name:
        return None
    return next((c for c in curricula() if c.name == name), None)
