"""Build billing_rules/data/icd10cm.tsv.gz: a multi-year ICD-10-CM index (ICD-10-CM is public domain,
CDC/NCHS).

The engine must answer cold in well under a second, and importing simple_icd_10_cm costs about 2 s and 200 MB,
so it reads this compact index instead. Each code carries the fiscal years it is valid in and the years it
is a
billable leaf, so a code used before it took effect (E11.A on 2025-06-10) or after its deletion is
`dx.invalid`.

Sources (all from PyPI, reproducible with the commands below; docs/rules.md "ICD-10-CM" says how to add a
year):
  FY2025  simple-icd-10-cm 1.4.0 wheel: CDC's April 2025 release (code list + tabular XML), read with the
          installed simple-icd-10-cm through its change_version().
  FY2026  simple-icd-10-cm 1.5.0 (installed): CDC's April 1, 2026 release.
  FY2027  sqllocks-shape-healthcare-codes 0.9.3 wheel: shape_healthcare_codes/data/icd10cm.arrow, built
  from CDC's
          FY2027 order file (sha256-pinned in that package) for a starter subset of 127 categories with
          each code's
          validity per release. FY2027 is therefore PARTIAL: only those categories are checked for FY2027; the
          index lists them, and the engine says "not checked for FY2027" for any other category.
          Reading it needs pyarrow (build time only, never a project dependency).

  pip download --no-deps -d wheels simple-icd-10-cm==1.4.0 sqllocks-shape-healthcare-codes==0.9.3
  pip install pyarrow        # in a throwaway venv beside the project's dev install
  python scripts/build_icd10_index.py wheels/

The build cross-checks the FY2027 subset against the libraries: for every category it covers, its FY2025 and
FY2026 codes and leaf flags must equal simple-icd-10-cm's exactly, or the build stops.
"""

from __future__ import annotations

import gzip
import json
import sys
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "billing_rules" / "data" / "icd10cm.tsv.gz"
FORMAT = "#icd10cm-index\t2"
# name, valid from, valid to, source; the wheel file and its member paths (None: the installed library's
# data).
CODE_SETS: list[dict[str, Any]] = [
    {
        "name": "FY2025",
        "from": "2024-10-01",
        "to": "2025-09-30",
        "source": "simple-icd-10-cm 1.4.0 (CDC/NCHS ICD-10-CM April 1, 2025 release)",
        "wheel": "simple_icd_10_cm-1.4.0-py3-none-any.whl",
        "members": (
            "simple_icd_10_cm/data/code-list-April-2025.txt",
            "simple_icd_10_cm/data/icd10cm-tabular-April-2025.xml",
        ),
    },
    {
        "name": "FY2026",
        "from": "2025-10-01",
        "to": "2026-09-30",
        "source": "simple-icd-10-cm 1.5.0 (CDC/NCHS ICD-10-CM April 1, 2026 release)",
        "wheel": None,
        "members": None,
    },
]
SUBSET = {
    "name": "FY2027",
    "from": "2026-10-01",
    "to": "2027-09-30",
    "source": (
        "sqllocks-shape-healthcare-codes 0.9.3 starter subset (CDC/NCHS FY2027 order file, "
        "icd10cm-code-descriptions-2027.zip, sha256 93e3ad60...) - 127 categories only"
    ),
    "wheel": "sqllocks_shape_healthcare_codes-0.9.3-py3-none-any.whl",
    "member": "shape_healthcare_codes/data/icd10cm.arrow",
    "release": "FY2027",
}


DESCRIPTION_ORDER = (1, 2, 0)


def _dotted(code: str) -> str:
    return code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"


@contextmanager
def _library() -> Iterator[ModuleType]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import simple_icd_10_cm as icd

        yield icd


def _library_set(icd: ModuleType, wheels: Path, spec: dict[str, Any]) -> dict[str, tuple[bool, str]]:
    """code -> (billable leaf, description) for one release, loaded into the installed library."""
    with tempfile.TemporaryDirectory() as tmp:
        if spec["wheel"]:
            with zipfile.ZipFile(wheels / spec["wheel"]) as wheel:
                paths = [wheel.extract(m, tmp) for m in spec["members"]]
            icd.change_version(*paths, suppress_warnings=True)
        else:
            icd.change_version(suppress_warnings=True)
        codes = {}
        for code in icd.get_all_codes(True):
            # Chapters ("4") and blocks ("E08-E13") are not codes; a block of one category (B20, C50) is both,
            # and the category is a code.
            if "-" not in code and not code.isdigit():
                codes[code] = (bool(icd.is_leaf(code)), icd.get_description(code).replace("\n", " "))
    return codes


def _subset(wheels: Path) -> tuple[dict[str, dict[str, tuple[bool, str]]], list[str]]:
    """release name -> {code: (leaf, description)} from the shape subset, and its categories."""
    import pyarrow.ipc as ipc

    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheels / SUBSET["wheel"]) as wheel:
        table = ipc.open_file(wheel.extract(SUBSET["member"], tmp)).read_all()
    releases = [r["id"] for r in json.loads(table.schema.metadata[b"releases"])]
    rows = table.to_pydict()
    by_release: dict[str, dict[str, tuple[bool, str]]] = {r: {} for r in releases}
    for code, desc, valid, leaf in zip(
        rows["code"], rows["long_desc"], rows["valid_mask"], rows["leaf_mask"], strict=True
    ):
        for i, release in enumerate(releases):
            if valid >> i & 1:
                by_release[release][_dotted(code)] = (bool(leaf >> i & 1), desc)
    categories = sorted({c[:3] for c in rows["code"]})
    return by_release, categories


def _cross_check(
    name: str, library: dict[str, tuple[bool, str]], subset: dict[str, tuple[bool, str]]
) -> None:
    cats = {c[:3] for c in subset}
    mine = {c: leaf for c, (leaf, _) in library.items() if c[:3] in cats}
    theirs = {c: leaf for c, (leaf, _) in subset.items()}
    if mine != theirs:
        diff = sorted(set(mine.items()) ^ set(theirs.items()))[:10]
        raise SystemExit(f"{name}: the FY2027 subset disagrees with simple-icd-10-cm, e.g. {diff}")


def build(wheels: Path) -> int:
    sets = [dict(s) for s in CODE_SETS]
    with _library() as icd:
        data = [_library_set(icd, wheels, s) for s in sets]
    subset, categories = _subset(wheels)
    for spec, codes in zip(sets, data, strict=True):
        _cross_check(spec["name"], codes, subset[spec["name"]])
    sets.append(dict(SUBSET))
    data.append(subset[SUBSET["release"]])
    coverage = ["*"] * (len(sets) - 1) + [",".join(categories)]
    lines = [FORMAT]
    for spec, cover in zip(sets, coverage, strict=True):
        lines.append("\t".join(("#code_set", spec["name"], spec["from"], spec["to"], spec["source"], cover)))
    everything = sorted(set().union(*data))
    for code in everything:
        valid = leaf = 0
        for i, codes in enumerate(data):
            if code in codes:
                valid |= 1 << i
                leaf |= int(codes[code][0]) << i
        # The newest full release's wording (simple-icd-10-cm's), else the newest that has the code.
        description = next(data[i][code][1] for i in DESCRIPTION_ORDER if code in data[i])
        lines.append(f"{code}\t{valid}\t{leaf}\t{description}")
    OUT.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), compresslevel=9, mtime=0))
    return len(everything)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    print(f"wrote {build(Path(sys.argv[1]))} codes to {OUT.name}")
