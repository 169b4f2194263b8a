"""Stream a Bulk Data export on disk and index it by patient in one pass.

Each ``*.ndjson`` file holds one resource per line. The first pass parses every line once (so a broken line is
reported, with its file and line number, before anything is evaluated) and keeps only where each patient's
lines are: 16 bytes a line (start, length) in an ``array('q')``. Resources outside the patient compartment
that the rules need (Practitioner, PractitionerRole, Organization) are few and kept whole. A patient's lines
are read back with one positioned read each when that patient is evaluated, so memory follows one patient's
data, not the export's.
"""

from __future__ import annotations

import os
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import orjson

from fhir_mappings.read_util import key_from_url
from smart_app.scrub.batch_gc import batch_gc
from smart_app.scrub.errors import ScrubInputError
from smart_app.scrub.fhir_types import FHIR_RESOURCE_TYPES

Resource = dict[str, Any]

# Patient-compartment types the scrub reads, and the element naming the patient.
PATIENT_FIELD = {
    "ChargeItem": "subject",
    "Encounter": "subject",
    "Condition": "subject",
    "Coverage": "beneficiary",
    "ServiceRequest": "subject",
    "DocumentReference": "subject",
}
SHARED_TYPES = frozenset({"Practitioner", "PractitionerRole", "Organization"})
_OFFSET_BITS = 40  # a file of up to 1 TB; the file's number goes in the bits above
BOM = b"\xef\xbb\xbf"  # some exporters start a file with one; JSON itself may not


def unbom(raw: bytes) -> bytes:
    return raw[3:] if raw.startswith(BOM) else raw


@dataclass
class ExportIndex:
    """Where each patient's lines are, the shared resources, and what was seen."""

    files: list[Path]
    patients: dict[str, array[int]] = field(default_factory=dict)
    shared: dict[str, Resource] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    unattributed: Counter[str] = field(default_factory=Counter)
    charges: Counter[str] = field(default_factory=Counter)  # ChargeItems per patient (progress, partitions)
    _fds: dict[int, int] = field(default_factory=dict, repr=False)

    def patient_ids(self) -> list[str]:
        return sorted(self.patients)

    def read_lines(self, patient_id: str) -> list[bytes]:
        """The raw lines of one patient, in file order (the order a second read gives is always the same).

        Positioned reads (``os.pread``: no seek, no buffer refill, no mapping that would count the export's
        pages as this process's memory), one per run of adjacent lines: exports usually write a patient's
        resources of a type together. The files stay open between patients (``close()``)."""
        out: list[bytes] = []
        mask = (1 << _OFFSET_BITS) - 1
        spots = self.patients.get(patient_id, ())
        i, count = 0, len(spots)
        while i < count:  # (file and offset, length) pairs, in file order
            spot = spots[i]
            start, sizes = spot & mask, [spots[i + 1]]
            end = start + sizes[0]
            i += 2
            while i < count and spots[i] == spot - (spot & mask) + end:  # the next line, same file
                sizes.append(spots[i + 1])
                end += spots[i + 1]
                i += 2
            number = spot >> _OFFSET_BITS
            fd = self._fds.get(number)
            if fd is None:
                fd = self._fds[number] = os.open(self.files[number], os.O_RDONLY)
            block, at = os.pread(fd, end - start, start), 0
            for size in sizes:
                out.append(unbom(block[at : at + size]))
                at += size
        return out

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()


def ndjson_files(directory: Path) -> list[Path]:
    if not directory.exists():
        raise ScrubInputError(f"{directory}: no such folder")
    if not directory.is_dir():
        raise ScrubInputError(f"{directory}: not a folder")
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.name.endswith(".ndjson"))
    if not files:
        raise ScrubInputError(f"{directory}: no *.ndjson files (a Bulk Data export: <Type>.ndjson)")
    return files


def parse_line(raw: bytes, name: str, line_no: int) -> Resource:
    """One NDJSON line as a resource; bad input names the file and line.

    orjson: a third of the standard library's parse time, and a scrub parses every line twice (the index pass,
    then the patient's turn)."""
    try:
        resource = orjson.loads(unbom(raw))
    except orjson.JSONDecodeError as exc:
        raise ScrubInputError(f"{name}:{line_no}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    rtype = resource.get("resourceType") if type(resource) is dict else None
    if type(rtype) is str and rtype in FHIR_RESOURCE_TYPES:
        return cast(Resource, resource)
    if not isinstance(resource, dict):
        raise ScrubInputError(f"{name}:{line_no}: not a FHIR resource (a JSON object is expected)")
    if not isinstance(rtype, str) or not rtype:
        raise ScrubInputError(f"{name}:{line_no}: no resourceType")
    raise ScrubInputError(f"{name}:{line_no}: unknown resource type {rtype!r}")


def patient_of(resource: Resource) -> str | None:
    """The id of the patient a resource belongs to (None when it names none)."""
    rtype = resource["resourceType"]
    if rtype == "Patient":
        rid = resource.get("id")
        return rid if isinstance(rid, str) and rid else None
    ref = resource.get(PATIENT_FIELD[rtype])
    value = ref.get("reference") if isinstance(ref, dict) else None
    if not isinstance(value, str):
        return None
    key = key_from_url(value.strip())
    return key[len("Patient/") :] if key and key.startswith("Patient/") else None


def _lines(path: Path) -> Iterator[tuple[int, int, bytes]]:
    """(line number, byte offset, line) of every non-blank line."""
    offset = 0
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.isspace():  # a blank line; no copy of the line as strip() would make
                yield number, offset, raw
            offset += len(raw)


def index_export(directory: Path) -> ExportIndex:
    """One streaming pass over every ``*.ndjson`` file of the folder."""
    index = ExportIndex(files=ndjson_files(directory))
    with batch_gc():
        _index_files(index)
    return index


def _index_files(index: ExportIndex) -> None:
    for number, path in enumerate(index.files):
        for line_no, offset, raw in _lines(path):
            resource = parse_line(raw, path.name, line_no)
            rtype = resource["resourceType"]
            index.counts[rtype] += 1
            if rtype in SHARED_TYPES:
                rid = resource.get("id")
                if isinstance(rid, str) and rid:
                    index.shared[f"{rtype}/{rid}"] = resource
                continue
            if rtype != "Patient" and rtype not in PATIENT_FIELD:
                continue
            patient = patient_of(resource)
            if patient is None:
                index.unattributed[rtype] += 1
                continue
            spots = index.patients.get(patient)
            if spots is None:
                spots = index.patients[patient] = array("q")
            spots.append((number << _OFFSET_BITS) | offset)
            spots.append(len(raw))
            if rtype == "ChargeItem":
                index.charges[patient] += 1
