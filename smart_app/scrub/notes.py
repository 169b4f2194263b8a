"""What the app's own note says (fhir_mappings.note writes it): minutes per code, curriculum, topics, setting.

Only DocumentReferences this app wrote are read (meta.tag written-by or meta.source); another author's note is
free text the scrub does not interpret. A line that is absent leaves its fact unknown (None), never guessed.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any

from fhir_mappings import extensions as ext

_CODE = r"(\d{4}[0-9FTU]|[A-V]\d{4})"
_SERVICE = re.compile(rf"^Service:\s*{_CODE}\b")
_MINUTES = re.compile(r"^(?:Face-to-face |Total |Treatment )?minutes:\s*(\d{1,3})\b", re.IGNORECASE)
# A visit note's per-service line: "97110 ... 23 minutes" / "- 97112: 24 min".
_CODE_MINUTES = re.compile(rf"^[\s\-*]*{_CODE}\b.*?\b(\d{{1,3}})\s*min(?:utes?)?\b", re.IGNORECASE)
_MINUTES_FIRST = frozenset("FfTtMm")  # what a line _MINUTES matches can start with
_GROUP = re.compile(r"group of (\d{1,3}) patients")


@dataclass(frozen=True)
class NoteFacts:
    """Facts read from one note of this app."""

    key: str  # DocumentReference/<id>
    encounter_id: str | None
    codes: tuple[str, ...] = ()  # the services the note names
    minutes: dict[str, int] = field(default_factory=dict)  # per code
    curriculum: str | None = None
    topics: tuple[str, ...] = ()
    patients_in_group: int | None = None
    caregiver_present: bool | None = None
    patient_present: bool = True

    def minutes_of(self, code: str) -> int | None:
        return self.minutes.get(code)


def written_by_app(resource: dict[str, Any]) -> bool:
    meta = resource.get("meta")
    if not isinstance(meta, dict):
        return False
    if meta.get("source") == ext.META_SOURCE:
        return True
    tags = meta.get("tag")
    if not isinstance(tags, list):
        return False
    return any(
        isinstance(t, dict)
        and t.get("system") == ext.WRITTEN_BY_TAG_SYSTEM
        and t.get("code") == ext.WRITTEN_BY_TAG_CODE
        for t in tags
    )


def note_text(resource: dict[str, Any]) -> str | None:
    """The first plain-text attachment's text (base64 ``data``)."""
    for content in resource.get("content") or []:
        attachment = content.get("attachment") if isinstance(content, dict) else None
        if not isinstance(attachment, dict) or not isinstance(attachment.get("data"), str):
            continue
        if not str(attachment.get("contentType", "text/plain")).startswith("text/plain"):
            continue
        try:
            return base64.b64decode(attachment["data"], validate=False).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return None
    return None


def _encounter_of(resource: dict[str, Any]) -> str | None:
    context = resource.get("context")
    if not isinstance(context, dict) or not isinstance(context.get("encounter"), list):
        return None
    for ref in context["encounter"]:
        value = ref.get("reference") if isinstance(ref, dict) else None
        if isinstance(value, str) and "Encounter/" in value:
            return value.rsplit("Encounter/", 1)[1].split("/", 1)[0]
    return None


def parse_note(resource: dict[str, Any]) -> NoteFacts | None:
    """The facts of one app-written DocumentReference; None for another author's note or no text."""
    if not written_by_app(resource):
        return None
    body = note_text(resource)
    if body is None:
        return None
    codes: list[str] = []
    minutes: dict[str, int] = {}
    current: str | None = None  # the service whose section the lines belong to (a visit note has several)
    curriculum: str | None = None
    topics: tuple[str, ...] = ()
    group: int | None = None
    caregiver: bool | None = None
    present = True
    for raw in body.splitlines():
        line = raw.strip()
        # Cheap guards first (each a condition its pattern needs): most lines match no pattern at all.
        if line.startswith("Service:") and (match := _SERVICE.match(line)):
            current = match[1]
            codes.append(current)
        elif current is not None and line[:1] in _MINUTES_FIRST and (match := _MINUTES.match(line)):
            minutes.setdefault(current, int(match[1]))
        elif line.startswith("Curriculum:"):
            curriculum = line.split(":", 1)[1].strip() or None
        elif line.startswith("Topics:"):
            topics = tuple(t.strip() for t in line.split(":", 1)[1].split(";") if t.strip())
        elif line.startswith("Participants:"):
            found = _GROUP.search(line)
            group = int(found[1]) if found else 1
            caregiver = "caregiver present" in line
            present = "patient not present" not in line
        elif match := _CODE_MINUTES.match(line):
            codes.append(match[1])
            minutes[match[1]] = int(match[2])
    return NoteFacts(
        key=f"DocumentReference/{resource.get('id')}",
        encounter_id=_encounter_of(resource),
        codes=tuple(dict.fromkeys(codes)),
        minutes=minutes,
        curriculum=curriculum,
        topics=topics,
        patients_in_group=group,
        caregiver_present=caregiver,
        patient_present=present,
    )
