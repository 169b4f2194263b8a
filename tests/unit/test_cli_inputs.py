"""The command line's JSON files are bounded: a regular file only, a byte cap, a depth limit; exit 2 with one
line naming the file and the problem. A closed pipe (``smart-edu check ... | head``) ends quietly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from smart_app.cli import EXIT_CLOSED_PIPE, main
from tests.conftest import DATA

SERVICE = DATA / "check" / "education-98960-diabetes.json"
BUNDLE = Path(__file__).resolve().parents[2] / "examples" / "bundle.json"
SCRIPT = Path(sys.executable).parent / "smart-edu"


def run(capsys: Any, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def deep_file(tmp_path: Path, depth: int) -> Path:
    path = tmp_path / f"deep-{depth}.json"
    path.write_text(
        '{"resourceType": "Bundle", "entry": ' + "[" * depth + "]" * depth + "}", encoding="utf-8"
    )
    return path


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("depth", [1_000, 100_000])
@pytest.mark.parametrize("option", ["--bundle", "--service"])
def test_check_refuses_deeply_nested_json(tmp_path: Path, capsys: Any, depth: int, option: str) -> None:
    files = {"--bundle": str(BUNDLE), "--service": str(SERVICE)}
    files[option] = str(deep_file(tmp_path, depth))
    code, out, err = run(capsys, "check", "--bundle", files["--bundle"], "--service", files["--service"])
    assert code == 2 and out == ""
    assert one_line(err) == f"smart-edu check: {option} {files[option]}: nested deeper than 64 levels"


def test_check_refuses_what_is_not_a_regular_file(tmp_path: Path, capsys: Any) -> None:
    fifo = tmp_path / "bundle.fifo"
    os.mkfifo(fifo)  # nobody writes: a plain open() would block for ever
    for path, kind in [("/dev/zero", "a device"), (str(fifo), "a pipe"), (str(tmp_path), "a directory")]:
        code, out, err = run(capsys, "check", "--bundle", path, "--service", str(SERVICE))
        assert code == 2 and out == ""
        assert one_line(err) == f"smart-edu check: --bundle {path}: not a regular file ({kind})"


def test_check_refuses_a_file_over_the_cap(tmp_path: Path, capsys: Any) -> None:
    big = tmp_path / "big.json"
    with big.open("wb") as f:
        f.truncate(64 * 1024 * 1024 + 1)
    code, _, err = run(capsys, "check", "--bundle", str(BUNDLE), "--service", str(big))
    assert code == 2 and one_line(err) == f"smart-edu check: --service {big}: larger than 64 MiB"


def test_sandbox_test_refuses_a_device_and_deep_json_as_service(tmp_path: Path, capsys: Any) -> None:
    deep = deep_file(tmp_path, 5_000)
    for path, problem in [
        ("/dev/zero", "not a regular file (a device)"),
        (str(deep), "nested deeper than 64"),
    ]:
        code, out, err = run(
            capsys,
            "sandbox-test",
            "--fhir-base",
            "http://127.0.0.1:9/fhir",
            "--patient",
            "p1",
            "--service",
            path,
        )
        assert code == 2 and out == ""
        assert one_line(err).startswith(f"smart-edu sandbox-test: --service {path}: {problem}")


def test_check_into_a_closed_pipe_ends_quietly_with_the_sigpipe_status() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader (e.g. `head`) is gone before the first byte is written
    try:
        done = subprocess.run(
            [str(SCRIPT), "check", "--bundle", str(BUNDLE), "--service", str(SERVICE), "--format", "text"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert done.stderr == "" and done.returncode == EXIT_CLOSED_PIPE == 141


def test_check_piped_into_head_prints_the_first_line_and_no_traceback() -> None:
    check = f"'{SCRIPT}' check --bundle '{BUNDLE}' --service '{SERVICE}'"
    shell = f'{check} | head -n 1; echo "rc=${{PIPESTATUS[0]}}"'
    done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, check=False, timeout=120)
    assert done.stdout.splitlines()[0] == "{" and "Traceback" not in done.stderr and done.stderr == ""
    assert done.stdout.splitlines()[-1] in ("rc=0", f"rc={EXIT_CLOSED_PIPE}")
