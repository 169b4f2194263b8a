"""The charges as scrub.html carries them: compact JSON the page's script draws the table from.

Written out as HTML, a charge took about 3.2 KB (its findings' messages, prompts and sources spelled out each
time): 320 MB for 100,000 charges, which no browser opens comfortably. Here every text is written once, in a
table of strings, and a charge is a short array of numbers into it:

    {"charges": [[date, patient, "ChargeItem/<id>", code, modifiers, units, clinician, [finding, ...]], ...],
     "findings": [[severity, rule, message, prompt, source], ...],
     "strings": ["...", ...]}

(date, patient, code, modifiers, clinician and a finding's fields are indexes into ``strings``; a finding is
an index into ``findings``; a missing date, code or clinician is "", units null). About 60 bytes a charge.

The rows are spooled to a temporary file as they come (memory does not grow with the export, past the
distinct texts), and the page gets them in its data block, where ``<`` is written ``\\u003c`` so no text can
end the block or open markup (the block is data, type application/json: never run, whatever the CSP).
"""

from __future__ import annotations

import shutil
import tempfile
from typing import IO, Any

import orjson

BATCH = 1024  # rows encoded per orjson call
SPOOL_BYTES = 8 * 1024 * 1024  # past this the rows wait in a temporary file


def _safe(data: bytes) -> bytes:
    return data.replace(b"<", b"\\u003c")


class PageData:
    """Charges in, the data block's JSON out (``write_to``), in the order they came."""

    def __init__(self) -> None:
        self._strings: dict[str, int] = {}
        self._findings: dict[tuple[str, str, str, str, str], int] = {}
        self._rows: list[list[Any]] = []
        self._spool: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed by close()
            max_size=SPOOL_BYTES, mode="w+b"
        )
        self._spooled = False
        self.count = 0

    def _string(self, text: str) -> int:
        number = self._strings.get(text)
        if number is None:
            number = self._strings[text] = len(self._strings)
        return number

    def add(self, charge: dict[str, Any]) -> None:
        string, known = self._string, self._findings
        findings = []
        for f in charge["findings"]:
            key = (f["severity"], f["rule"], f["message"], f["prompt"], f["source"])
            number = known.get(key)
            if number is None:
                number = known[key] = len(known)
            findings.append(number)
        self._rows.append(
            [
                string(charge["date"] or ""),
                string(charge["patient"]),
                charge["chargeitem"],
                string(charge["code"] or ""),
                string(" ".join(charge.get("modifiers") or ())),
                charge["units"],
                string(charge.get("clinician") or "not named"),
                findings,
            ]
        )
        self.count += 1
        if len(self._rows) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            if self._spooled:
                self._spool.write(b",")
            self._spool.write(_safe(orjson.dumps(self._rows)[1:-1]))
            self._spooled = True
            self._rows = []

    def write_to(self, out: IO[bytes]) -> None:
        """The whole block's JSON into ``out``."""
        self._flush()
        out.write(b'{"charges":[')
        self._spool.seek(0)
        shutil.copyfileobj(self._spool, out)
        string = self._string
        findings = [[string(part) for part in key] for key in self._findings]
        out.write(b'],\n"findings":' + _safe(orjson.dumps(findings)))
        out.write(b',\n"strings":' + _safe(orjson.dumps(list(self._strings))) + b"}")

    def close(self) -> None:
        self._spool.close()
