"""``smart-edu check`` end to end: Synthea and US Core/CARIN-derived bundles, every exit code, bad input."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fhir_mappings.codes import CPT, ICD10CM, NUCC, SNOMED, SOPT, V2_0360
from smart_app.cli import main
from tests.conftest import DATA, load_json

SERVICE = DATA / "check" / "education-98960-diabetes.json"
NO_DX_SERVICE = DATA / "check" / "education-98960-no-diagnosis.json"
SYNTHEA = DATA / "public/synthea-smart-generated-sample-data"
LOUIS = SYNTHEA / "Louis_Maggio_2e275d4b-855a-4eb2-9021-5410aa8acd4f.json"
US = "public/us-core-examples"


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {
        "fullUrl": f"https://ehr.test/fhir/{resource['resourceType']}/{resource['id']}",
        "resource": resource,
    }


def _nurse() -> list[dict[str, Any]]:
    """The documenting clinician: an RN with a PractitionerRole carrying the NUCC RN taxonomy."""
    nurse = {
        "resourceType": "Practitioner",
        "id": "nurse-1",
        "name": [{"given": ["Robin"], "family": "Educator"}],
        "qualification": [{"code": {"coding": [{"system": V2_0360, "code": "RN"}]}}],
    }
    role = {
        "resourceType": "PractitionerRole",
        "id": "nurse-1-role",
        "practitioner": {"reference": "Practitioner/nurse-1"},
        "code": [{"coding": [{"system": NUCC, "code": "163W00000X"}]}],
    }
    return [nurse, role]


def clinical_resources(
    patient: dict[str, Any], coverage: dict[str, Any], payor: dict[str, Any]
) -> list[dict[str, Any]]:
    """US Core examples re-dated to 2026 and re-pointed at ``patient``, with an ICD-10-CM E11.9 diagnosis,
    a physician (NUCC 207Q00000X) ordering 98960, and an RN as the documenting clinician."""
    pref = {"reference": f"Patient/{patient['id']}"}
    encounter = load_json(f"{US}/encounter-example-1.json") | {
        "subject": pref,
        "period": {"start": "2026-03-10T09:00:00-05:00", "end": "2026-03-10T09:45:00-05:00"},
    }
    condition = load_json(f"{US}/condition-encounter-diagnosis-example1.json") | {"subject": pref}
    condition["code"] = {
        "coding": [
            {"system": SNOMED, "code": "44054006", "display": "Diabetes mellitus type 2"},
            {"system": ICD10CM, "code": "E11.9"},
        ],
        "text": "Type 2 diabetes",
    }
    physician = load_json(f"{US}/practitioner-1.json")
    physician["qualification"] = [{"code": {"coding": [{"system": NUCC, "code": "207Q00000X"}]}}]
    order = load_json(f"{US}/servicerequest-rehab.json") | {
        "subject": pref,
        "authoredOn": "2026-03-01",
        "code": {"coding": [{"system": CPT, "code": "98960"}], "text": "Diabetes self-management education"},
    }
    cov = copy.deepcopy(coverage) | {"beneficiary": pref}
    return [patient, encounter, condition, cov, payor, physician, order, *_nurse()]


def us_core_coverage(*sopt: str) -> dict[str, Any]:
    cov = load_json(f"{US}/coverage-example.json")
    cov["type"] = {"coding": [{"system": SOPT, "code": c} for c in sopt]}
    return cov


def write_bundle(tmp_path: Path, resources: list[dict[str, Any]], name: str = "bundle.json") -> Path:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [_entry(r) for r in resources]}
    path = tmp_path / name
    path.write_text(json.dumps(bundle), encoding="utf-8")
    return path


def us_core_bundle(tmp_path: Path, *sopt: str) -> Path:
    resources = clinical_resources(
        load_json(f"{US}/patient-example.json"),
        us_core_coverage(*sopt),
        load_json(f"{US}/organization-acme-payer.json"),
    )
    return write_bundle(tmp_path, resources)


def run_check(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main(["check", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def rules(evaluation: dict[str, Any]) -> dict[str, str]:
    return {f["rule"]: f["severity"] for f in evaluation["findings"]}


def test_medicaid_patient_with_order_curriculum_and_icd10_is_billable(tmp_path: Path, capsys: Any) -> None:
    code, out, err = run_check(capsys, "--bundle", us_core_bundle(tmp_path, "2"), "--service", SERVICE)
    evaluation = json.loads(out)
    assert code == 0 and err == "", evaluation["findings"]
    assert set(evaluation) == {"billable", "charge_lines", "findings", "estimate", "rules_version"}
    assert evaluation["billable"] is True
    (line,) = evaluation["charge_lines"]
    assert line["code"] == "98960" and line["units"] == 1 and line["diagnoses"] == ["E11.9"]
    assert evaluation["estimate"]["payer_class"] == "medicaid"
    assert "block" not in rules(evaluation).values()


def test_medicare_ffs_blocks_98960_exit_1(tmp_path: Path, capsys: Any) -> None:
    code, out, _ = run_check(capsys, "--bundle", us_core_bundle(tmp_path, "121"), "--service", SERVICE)
    evaluation = json.loads(out)
    assert code == 1 and evaluation["billable"] is False
    assert rules(evaluation)["payer.not-covered"] == "block"


def test_carin_medicare_hmo_coverage_reads_as_medicare_advantage(tmp_path: Path, capsys: Any) -> None:
    carin = "public/carin-bb-examples"
    resources = clinical_resources(
        load_json(f"{carin}/Patient_ExamplePatient1.json"),
        load_json(f"{carin}/Coverage_CoverageEx1.json"),
        load_json(f"{carin}/Organization_PayerOrganizationExample1.json"),
    )
    code, out, _ = run_check(capsys, "--bundle", write_bundle(tmp_path, resources), "--service", SERVICE)
    evaluation = json.loads(out)
    assert evaluation["estimate"]["payer_class"] == "medicare-advantage"
    # Medicare Advantage plans differ on 98960: a warning, not a block (issue 12)
    assert rules(evaluation).get("payer.not-covered") == "warn" and "payer.unknown" not in rules(evaluation)
    assert code == (0 if evaluation["billable"] else 1)


def test_service_payer_class_override_wins_over_the_bundle(tmp_path: Path, capsys: Any) -> None:
    service = json.loads(SERVICE.read_text()) | {"payer_class": "medicare"}
    path = tmp_path / "service.json"
    path.write_text(json.dumps(service))
    code, out, _ = run_check(capsys, "--bundle", us_core_bundle(tmp_path, "2"), "--service", path)
    assert code == 1 and rules(json.loads(out))["payer.not-covered"] == "block"


def test_synthea_snomed_only_patient_needs_icd10(capsys: Any) -> None:
    code, out, _ = run_check(capsys, "--bundle", LOUIS, "--service", NO_DX_SERVICE)
    evaluation = json.loads(out)
    assert code == 1
    found = rules(evaluation)
    assert found["dx.needs-icd10"] == "warn" and found["dx.missing"] == "block"
    assert found["payer.unknown"] == "warn"  # Synthea 2.4 bundles carry no Coverage


@pytest.mark.parametrize("bundle", sorted(SYNTHEA.glob("*.json")), ids=lambda p: p.name.split("_")[0])
def test_every_synthea_bundle_goes_through_check(bundle: Path, capsys: Any) -> None:
    code, out, err = run_check(capsys, "--bundle", bundle, "--service", NO_DX_SERVICE)
    assert code == 1 and err == ""
    assert "dx.missing" in rules(json.loads(out))


def test_text_format_is_what_a_biller_reads(tmp_path: Path, capsys: Any) -> None:
    code, out, _ = run_check(
        capsys, "--bundle", us_core_bundle(tmp_path, "121"), "--service", SERVICE, "--format", "text"
    )
    assert code == 1
    head = out.splitlines()[:5]
    assert head == [
        "Patient:          Amy V. Baxter (Patient/example)",
        "Date of service:  2026-03-10",
        head[2],  # the payer line, checked below
        "",
        head[4],
    ]
    assert head[2].startswith("Payer:            Acme Health Plan (") and head[4].startswith("BLOCKED")
    assert "Charge lines:\n  98960 x1" in out
    assert "BLOCK (" in out and "[payer.not-covered]" in out and "      -> " in out
    assert out.index("Charge lines:") < out.index("BLOCK (")
    assert "Rules version" in out


def test_text_format_gives_each_finding_its_source_as_the_json_does(capsys: Any) -> None:
    _, as_json, _ = run_check(capsys, "--bundle", LOUIS, "--service", SERVICE)
    _, text, _ = run_check(capsys, "--bundle", LOUIS, "--service", SERVICE, "--format", "text")
    findings = json.loads(as_json)["findings"]
    source_lines = [line for line in text.splitlines() if line.startswith("      source: ")]
    assert findings and len(source_lines) == len(findings)
    for finding, line in zip(findings, source_lines, strict=True):
        assert line.startswith(f"      source: {finding['source']}")
        assert all(url in line for url in finding["source_urls"])
    assert any(f["source_urls"] for f in findings)


def test_text_format_lists_read_notes(capsys: Any) -> None:
    _, out, _ = run_check(capsys, "--bundle", LOUIS, "--service", NO_DX_SERVICE, "--format", "text")
    # Synthea's Louis has SNOMED CT conditions only: the note says one must be chosen
    assert "From the EHR data:" in out and "has an ICD-10-CM code" in out
    assert "INFO (" not in out or out.index("WARN (") < out.index("INFO (")


def test_as_of_is_accepted(tmp_path: Path, capsys: Any) -> None:
    code, out, err = run_check(
        capsys, "--bundle", us_core_bundle(tmp_path, "2"), "--service", SERVICE, "--as-of", "2026-03-10"
    )
    assert code == 0 and err == "" and json.loads(out)["billable"] is True


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    """name -> (argv, text the one stderr line must contain)."""
    good_bundle = str(us_core_bundle(tmp_path, "2"))
    service = json.loads(SERVICE.read_text())

    def file(name: str, content: Any) -> str:
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
        return str(path)

    no_patient = file("nopatient.json", {"resourceType": "Bundle", "type": "collection", "entry": []})
    svc = file("svc.json", service)
    return {
        "bundle missing": (
            ["--bundle", str(tmp_path / "absent.json"), "--service", svc],
            "absent.json: file not found",
        ),
        "bundle not json": (["--bundle", file("b.txt", "{not json"), "--service", svc], "b.txt: not JSON"),
        "bundle a resource": (
            ["--bundle", file("p.json", load_json(f"{US}/patient-example.json")), "--service", svc],
            "field 'resourceType': not a FHIR Bundle",
        ),
        "bundle a list": (["--bundle", file("l.json", [1]), "--service", svc], "not a FHIR Bundle"),
        "bundle without patient": (["--bundle", no_patient, "--service", svc], "field 'entry': no Patient"),
        "service missing": (
            ["--bundle", good_bundle, "--service", str(tmp_path / "nosvc.json")],
            "file not found",
        ),
        "service not json": (
            ["--bundle", good_bundle, "--service", file("s.txt", "code: 98960")],
            "not JSON",
        ),
        "service a list": (["--bundle", good_bundle, "--service", file("s2.json", [service])], "JSON object"),
        "unknown field": (
            ["--bundle", good_bundle, "--service", file("s3.json", service | {"colour": 1})],
            "'colour'",
        ),
        "wrong type": (
            ["--bundle", good_bundle, "--service", file("s4.json", service | {"minutes": "30"})],
            "'minutes'",
        ),
        "negative minutes": (
            ["--bundle", good_bundle, "--service", file("s5.json", service | {"minutes": -5})],
            "'minutes'",
        ),
        "absurd minutes": (
            ["--bundle", good_bundle, "--service", file("s6.json", service | {"minutes": 10**6})],
            "'minutes'",
        ),
        "empty code": (
            ["--bundle", good_bundle, "--service", file("s7.json", service | {"code": " "})],
            "'code'",
        ),
        "code format": (
            ["--bundle", good_bundle, "--service", file("s8.json", service | {"code": "98960-GP"})],
            "field 'code': '98960-GP' is not a CPT or HCPCS code",
        ),
        "bad as-of": (
            ["--bundle", good_bundle, "--service", svc, "--as-of", "2026-13-01"],
            "--as-of 2026-13-01",
        ),
        "as-of words": (["--bundle", good_bundle, "--service", svc, "--as-of", "yesterday"], "not a date"),
    }


BAD_CASES = [
    "bundle missing", "bundle not json", "bundle a resource", "bundle a list", "bundle without patient",
    "service missing", "service not json", "service a list", "unknown field", "wrong type",
    "negative minutes", "absurd minutes", "empty code", "code format", "bad as-of", "as-of words",
]  # fmt: skip


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_input_is_one_line_naming_file_and_field_exit_2(case: str, tmp_path: Path, capsys: Any) -> None:
    argv, expected = _bad_inputs(tmp_path)[case]
    code, out, err = run_check(capsys, *argv)
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith("smart-edu check: --") and expected in lines[0]


def test_console_script_runs_cold_without_flask_or_fhir_resources(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "smart-edu"
    bundle = us_core_bundle(tmp_path, "121")
    result = subprocess.run(
        [str(script), "check", "--bundle", str(bundle), "--service", str(SERVICE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1 and json.loads(result.stdout)["billable"] is False
    probe = (
        "import sys; from smart_app.cli import main; "
        f"rc = main(['check', '--bundle', {str(bundle)!r}, '--service', {str(SERVICE)!r}]); "
        "heavy = [m for m in ('flask', 'fhir.resources', 'simple_icd_10_cm', 'sqlalchemy') "
        "if m in sys.modules]; "
        "print('HEAVY', heavy, file=sys.stderr); sys.exit(rc)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert result.returncode == 1 and "HEAVY []" in result.stderr


def test_text_header_says_what_the_bundle_does_not_name() -> None:
    from datetime import date

    from billing_rules.model import ClinicalContext, Evaluation
    from smart_app.commands.check import format_text

    empty = Evaluation(billable=False, charge_lines=(), findings=(), estimate=None, rules_version="t")
    lines = format_text(empty, ClinicalContext()).splitlines()
    assert lines[:3] == [
        "Patient:          not named in the bundle",
        "Date of service:  not given (no service_date, no encounter date)",
        "Payer:            unknown",
    ]
    dated = format_text(empty, ClinicalContext(), date(2026, 3, 2)).splitlines()
    assert dated[1] == "Date of service:  2026-03-02"
