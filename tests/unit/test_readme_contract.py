"""The README tells the truth: its command table names exactly the flags the parser takes, its `check`
example prints what it shows, the service-file table in docs/rules.md lists exactly the parser's fields, and
the mistakes a biller makes get one line that says how to fix them.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import pytest

from billing_rules.service_record import PARSERS
from smart_app.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
RULES_DOC = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
EXAMPLES = ROOT / "examples"


def readme_commands() -> dict[str, set[str]]:
    """Each `smart-edu <command> …` row of the README's command table, with the flags it names."""
    rows = re.findall(r"^\| `smart-edu ([a-z-]+)([^`]*)` \|", README, flags=re.M)
    return {name: set(re.findall(r"--[a-z-]+", rest)) for name, rest in rows}


def parser_flags(name: str) -> set[str]:
    """The command's flags, and its actions' flags for a command with actions (``rules status``)."""
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    parsers = [sub.choices[name]]
    for action in parsers[0]._actions:
        if isinstance(action, argparse._SubParsersAction):
            parsers += list(action.choices.values())
    flags = {o for p in parsers for a in p._actions for o in a.option_strings if o.startswith("--")}
    return flags - {"--help"}


def test_the_command_table_names_every_flag_and_only_real_ones() -> None:
    table = readme_commands()
    assert set(table) == {
        "demo",
        "serve",
        "check",
        "sandbox-test",
        "outbox",
        "audit",
        "db",
        "purge",
        "rules",
        "scrub",
    }
    for name, flags in table.items():
        assert flags == parser_flags(name), name


def test_demo_has_no_host_option_it_binds_loopback_only() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--host", "0.0.0.0"])  # noqa: S104  (refused, the point)


def matches(shown: Any, actual: Any) -> bool:
    """README JSON against real output: "…" stands for any text, "abc …" for text starting so."""
    if isinstance(shown, str) and shown.endswith("…"):
        return isinstance(actual, str) and actual.startswith(shown[:-1].rstrip())
    if isinstance(shown, dict):
        return (
            isinstance(actual, dict)
            and shown.keys() == actual.keys()
            and all(matches(v, actual[k]) for k, v in shown.items())
        )
    if isinstance(shown, list):
        return isinstance(actual, list) and len(shown) == len(actual) and all(map(matches, shown, actual))
    return bool(shown == actual)


def test_the_readme_check_example_prints_what_the_readme_shows(capsys: pytest.CaptureFixture[str]) -> None:
    blocks = re.findall(r"```json\n(.*?)```", README, flags=re.S)
    service = json.loads(blocks[0])
    assert service == json.loads((EXAMPLES / "service.json").read_text(encoding="utf-8"))
    shown = json.loads(blocks[1])
    code = main(
        ["check", "--bundle", str(EXAMPLES / "bundle.json"), "--service", str(EXAMPLES / "service.json")]
    )
    actual = json.loads(capsys.readouterr().out)
    assert code == 0 and matches(shown, actual), actual


def test_the_text_format_of_the_example_is_billable(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--bundle", str(EXAMPLES / "bundle.json"), "--service", str(EXAMPLES / "service.json")]
    assert main(["check", *argv, "--format", "text"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Patient:          Carmen Delgado (Patient/edu-dm-commercial)\n")
    assert "\n\nBILLABLE\n" in out and "98960 x1" in out and "USD 35.00 to 65.00" in out


def test_the_service_file_table_lists_exactly_the_parsers_fields() -> None:
    section = RULES_DOC.split("## The service file (ServiceRecord)", 1)[1].split("\n## ", 1)[0]
    documented = {
        f for row in re.findall(r"^\| (`.*?) \|", section, flags=re.M) for f in re.findall(r"`(\w+)`", row)
    }
    assert documented == set(PARSERS)


@pytest.mark.parametrize(
    ("change", "line"),
    [
        ({"minutes": "30"}, "field 'minutes': must be a whole number, not text (write 30 without quotes)"),
        ({"minuts": 30}, "field 'minuts': unknown field (did you mean 'minutes'?)"),
        (
            {"evaluation": {"body_system": 2}},
            "'evaluation.body_system': unknown field (did you mean 'body_systems'?)",
        ),
        ({"colour": "red"}, "field 'colour': unknown field\n"),
    ],
)
def test_a_billers_mistake_gets_one_line_saying_how_to_fix_it(
    change: dict[str, Any], line: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    service = json.loads((EXAMPLES / "service.json").read_text(encoding="utf-8")) | change
    path = tmp_path / "s.json"
    path.write_text(json.dumps(service), encoding="utf-8")
    assert main(["check", "--bundle", str(EXAMPLES / "bundle.json"), "--service", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and line in err


def test_swapped_files_are_named_as_such(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--bundle", str(EXAMPLES / "service.json"), "--service", str(EXAMPLES / "bundle.json")]
    assert main(["check", *argv]) == 2
    assert "are --bundle and --service swapped?" in capsys.readouterr().err


def test_every_environment_variable_the_code_names_is_documented() -> None:
    docs = README + "".join(p.read_text(encoding="utf-8") for p in (ROOT / "docs").glob("*.md"))
    sources = [
        p for pkg in ("smart_app", "billing_rules", "fhir_mappings") for p in (ROOT / pkg).rglob("*.py")
    ]
    named = {
        v for p in sources for v in re.findall(r"\bSMART_EDU_[A-Z_]*[A-Z]\b", p.read_text(encoding="utf-8"))
    }
    assert named and sorted(v for v in named if v not in docs) == []
