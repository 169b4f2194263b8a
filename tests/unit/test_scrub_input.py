"""smart-edu scrub: bad input names the file and line and exits 2; the index pass streams by patient."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smart_app.cli import main
from smart_app.scrub.errors import ScrubInputError
from smart_app.scrub.ndjson import index_export
from tests.scrub_data import write_export


@pytest.fixture
def export(tmp_path: Path) -> Path:
    write_export(tmp_path / "export")
    return tmp_path / "export"


def _scrub(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["scrub", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _append(path: Path, line: str) -> int:
    """Append a line; return its line number."""
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([*lines, line]) + "\n", encoding="utf-8")
    return len(lines) + 1


def test_a_missing_folder_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _scrub(capsys, "--ndjson", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"))
    assert code == 2 and out == ""
    assert "nowhere: no such folder" in err
    assert not (tmp_path / "o").exists()


def test_a_folder_without_ndjson_files_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    code, _, err = _scrub(capsys, "--ndjson", str(tmp_path / "empty"), "--out", str(tmp_path / "o"))
    assert code == 2 and "no *.ndjson files" in err


def test_a_broken_line_names_its_file_and_line(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    number = _append(export / "Condition.ndjson", '{"resourceType": "Condition", "id": "x",')
    code, out, err = _scrub(capsys, "--ndjson", str(export), "--out", str(tmp_path / "o"))
    assert code == 2 and out == ""
    assert f"Condition.ndjson:{number}: not valid JSON" in err
    assert not (tmp_path / "o").exists()  # nothing half-written


def test_an_unknown_resource_type_is_named(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    number = _append(export / "ChargeItem.ndjson", json.dumps({"resourceType": "ChargeLine", "id": "1"}))
    code, _, err = _scrub(capsys, "--ndjson", str(export), "--out", str(tmp_path / "o"))
    assert code == 2
    assert f"ChargeItem.ndjson:{number}: unknown resource type 'ChargeLine'" in err


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("[1, 2]", "not a FHIR resource"),
        ('{"id": "1"}', "no resourceType"),
        ('"text"', "not a FHIR resource"),
    ],
)
def test_a_line_that_is_no_resource_is_named(export: Path, line: str, says: str) -> None:
    number = _append(export / "Patient.ndjson", line)
    with pytest.raises(ScrubInputError, match=rf"Patient.ndjson:{number}: {says}"):
        index_export(export)


def test_blank_lines_are_skipped_and_line_numbers_stay_true(export: Path) -> None:
    path = export / "Encounter.ndjson"
    path.write_text("\n" + path.read_text(encoding="utf-8") + "\n\n", encoding="utf-8")
    number = _append(path, "{")
    with pytest.raises(ScrubInputError, match=rf"Encounter.ndjson:{number}:"):
        index_export(export)


def test_other_fhir_types_are_counted_not_refused(export: Path) -> None:
    observation = {
        "resourceType": "Observation",
        "id": "o1",
        "subject": {"reference": "Patient/edu-dm-commercial"},
    }
    (export / "Observation.ndjson").write_text(json.dumps(observation) + "\n", encoding="utf-8")
    index = index_export(export)
    assert index.counts["Observation"] == 1
    assert all(b"Observation" not in line for p in index.patient_ids() for line in index.read_lines(p))


def test_the_index_reads_back_exactly_one_patients_lines(export: Path) -> None:
    index = index_export(export)
    lines = [json.loads(line) for line in index.read_lines("edu-knee-medicare")]
    owners = {
        (r.get("subject") or r.get("beneficiary") or {"reference": f"Patient/{r['id']}"})["reference"]
        for r in lines
    }
    assert owners == {"Patient/edu-knee-medicare"}
    kinds = {r["resourceType"] for r in lines}
    assert {"Patient", "Coverage", "Condition", "Encounter", "ChargeItem", "DocumentReference"} <= kinds
    assert index.charges["edu-knee-medicare"] == 4
    assert "Practitioner/pta-cho" in index.shared and "PractitionerRole/role-pta-cho" in index.shared


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--since", "2026-13-01"], "--since '2026-13-01' is not a date"),
        (["--since", "2026-03-02", "--until", "2026-03-01"], "--since is after --until"),
        (["--format", "pdf"], "--format 'pdf'"),
        (["--workers", "0"], "--workers must be at least 1"),
    ],
)
def test_bad_options_exit_2(
    export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], says: str
) -> None:
    code, _, err = _scrub(capsys, "--ndjson", str(export), "--out", str(tmp_path / "o"), *args)
    assert code == 2 and says in err


def test_a_file_that_starts_with_a_byte_order_mark_is_read(export: Path) -> None:
    """Some exporters write a UTF-8 BOM; the lines behind it are the same resources (first line included)."""
    plain = index_export(export)
    path = export / "Patient.ndjson"
    first = json.loads(path.read_bytes().splitlines()[0])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    marked = index_export(export)
    assert marked.counts == plain.counts and marked.patient_ids() == plain.patient_ids()
    assert any(json.loads(line)["id"] == first["id"] for line in marked.read_lines(first["id"]))
    marked.close()
    plain.close()


def test_the_scrub_raises_the_collector_threshold_only_while_it_runs(export: Path) -> None:
    """smart_app.scrub.batch_gc: raised inside (also when the scrub's own code raises), restored after."""
    import gc

    from smart_app.scrub.batch_gc import YOUNG, batch_gc
    from smart_app.scrub.run import Options, scrub_directory

    before = gc.get_threshold()
    inside: list[int] = []
    with pytest.raises(RuntimeError), batch_gc():
        inside.append(gc.get_threshold()[0])
        raise RuntimeError
    assert inside == [max(before[0], YOUNG)] and gc.get_threshold() == before
    scrub_directory(export, Options())
    assert gc.get_threshold() == before


def test_a_patients_lines_read_back_whole_whether_adjacent_or_interleaved(tmp_path: Path) -> None:
    """Adjacent lines are read in one go, interleaved ones one by one; blank lines between are no line."""
    folder = tmp_path / "x"
    folder.mkdir()
    lines = [
        json.dumps({"resourceType": "Condition", "id": f"c{n}", "subject": {"reference": f"Patient/{who}"}})
        for n, who in enumerate("aabab")
    ]
    body = "\n".join(lines[:2]) + "\n\n" + "\n".join(lines[2:]) + "\n"
    (folder / "Condition.ndjson").write_text(body, encoding="utf-8")
    index = index_export(folder)
    try:
        assert [json.loads(x)["id"] for x in index.read_lines("a")] == ["c0", "c1", "c3"]
        assert [json.loads(x)["id"] for x in index.read_lines("b")] == ["c2", "c4"]
        assert all(x.endswith(b"\n") for p in "ab" for x in index.read_lines(p))
    finally:
        index.close()
