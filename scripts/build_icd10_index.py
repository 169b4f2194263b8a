"""Build billing_rules/data/icd10cm.tsv.gz from simple-icd-10-cm (ICD-10-CM is public domain, CDC/NCHS).

The engine must answer cold in well under a second, and importing simple_icd_10_cm costs about 2 s and 200 MB,
so it reads this compact index instead. Rerun when the library ships a new code set and update CODE_SET below.
Usage: python scripts/build_icd10_index.py
"""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

CODE_SET = (
    "FY2026",
    "2025-10-01",
    "2026-09-30",
    "simple-icd-10-cm 1.5.0 (CMS/NCHS ICD-10-CM April 1, 2026 update)",
)
OUT = Path(__file__).resolve().parent.parent / "billing_rules" / "data" / "icd10cm.tsv.gz"


def build() -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import simple_icd_10_cm as icd

    lines = ["#code_set\t" + "\t".join(CODE_SET)]
    for code in icd.get_all_codes(True):
        if icd.is_chapter_or_block(code):
            continue
        description = icd.get_description(code).replace("\n", " ")
        lines.append(f"{code}\t{1 if icd.is_leaf(code) else 0}\t{description}")
    data = ("\n".join(lines) + "\n").encode("utf-8")
    OUT.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    return len(lines) - 1


if __name__ == "__main__":
    print(f"wrote {build()} codes to {OUT.name}")
