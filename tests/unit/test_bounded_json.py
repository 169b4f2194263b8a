"""Bounded JSON: the depth is measured exactly and without recursion, sizes are capped, odd JSON refused."""

from __future__ import annotations

import io
import json
import os
import random
from pathlib import Path
from typing import Any

import pytest

from smart_app import bounded_json
from smart_app.bounded_json import JsonInputError, loads, nesting_depth_exceeds


def depth_of(value: Any) -> int:
    """The reference: nesting depth of a parsed value (a scalar is 0, ``[]`` is 1)."""
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    return 0


def random_value(rng: random.Random, depth: int) -> Any:
    if depth == 0 or rng.random() < 0.2:
        return rng.choice([1, -2.5, True, None, "x", '[{"', "a]}\\", '\\"[', "ü{", ""])
    if rng.random() < 0.5:
        return [random_value(rng, depth - 1) for _ in range(rng.randint(0, 3))]
    return {
        rng.choice(["k", "[", '"}', "\\"]) + str(i): random_value(rng, depth - 1)
        for i in range(rng.randint(0, 3))
    }


def test_the_scan_agrees_with_the_parsed_depth_at_every_boundary() -> None:
    rng = random.Random(20261204)
    for trial in range(500):
        value = random_value(rng, rng.randint(0, 9))
        text = json.dumps(value, ensure_ascii=rng.random() < 0.5, indent=rng.choice([None, 1]))
        depth = depth_of(value)
        assert not nesting_depth_exceeds(text, depth), (trial, text)
        if depth:
            assert nesting_depth_exceeds(text, depth - 1), (trial, text)
            assert loads(text, max_depth=depth) == value
            with pytest.raises(JsonInputError, match=f"nested deeper than {depth - 1} levels"):
                loads(text, max_depth=depth - 1)


@pytest.mark.parametrize("depth", [1_000, 100_000])
@pytest.mark.parametrize("shape", ["arrays", "objects", "unclosed", "mixed"])
def test_a_deep_body_is_refused_without_recursion_error(depth: int, shape: str) -> None:
    text = {
        "arrays": "[" * depth + "]" * depth,
        "objects": '{"a":' * depth + "1" + "}" * depth,
        "unclosed": "[" * depth,
        "mixed": '[{"a":' * (depth // 2) + "0" + "}]" * (depth // 2),
    }[shape]
    with pytest.raises(JsonInputError, match="nested deeper than 64 levels"):
        loads(text)


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"note": "[" * 5000 + '"\\' + "{" * 5000})
    assert loads(text) == json.loads(text)


def test_shallow_invalid_json_gets_the_parsers_position() -> None:
    with pytest.raises(JsonInputError, match=r"not JSON \(line 2, column 1"):
        loads('{"a": [1,\n')
    with pytest.raises(JsonInputError, match="not JSON"):
        loads("]]][[[")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[NaN]", "NaN is not a JSON number"),
        ('{"a": -Infinity}', "-Infinity is not a JSON number"),
        ("1" * 5000, "not usable JSON (exceeds the limit"),
    ],
)
def test_values_json_does_not_allow_are_refused(text: str, words: str) -> None:
    with pytest.raises(JsonInputError) as err:
        loads(text)
    assert words in err.value.message and not err.value.too_large


def test_bytes_must_be_utf8_and_a_bom_is_accepted() -> None:
    assert loads('\ufeff{"a": "é"}'.encode()) == {"a": "é"}
    with pytest.raises(JsonInputError, match="not UTF-8 text"):
        loads(b'{"a": "\xff"}')


def test_size_is_capped_before_parsing() -> None:
    with pytest.raises(JsonInputError, match="larger than 1 KiB") as err:
        loads(b" " * 1025 + b"1", max_bytes=1024)
    assert err.value.too_large
    assert loads(b" " * 1023 + b"1", max_bytes=1024) == 1


def test_read_capped_stops_one_byte_past_the_cap() -> None:
    stream = io.BytesIO(b"x" * 10_000)
    with pytest.raises(JsonInputError, match="larger than 4 KiB"):
        bounded_json.read_capped(stream, 4096)
    assert stream.tell() == 4097
    assert bounded_json.read_capped(io.BytesIO(b"abc"), 3) == b"abc"


def test_load_file_reads_a_regular_file(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"code": "98960"}', encoding="utf-8")
    assert bounded_json.load_file(str(path)) == {"code": "98960"}


def test_load_file_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # no writer: a blocking open would hang here
    cases = {"/dev/zero": "a device", str(tmp_path): "a directory", str(fifo): "a pipe"}
    for path, kind in cases.items():
        with pytest.raises(JsonInputError) as err:
            bounded_json.load_file(path)
        assert kind in err.value.message, path
    with pytest.raises(JsonInputError, match="file not found"):
        bounded_json.load_file(str(tmp_path / "missing.json"))


def test_load_file_refuses_a_file_over_the_cap_by_its_size(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    with path.open("wb") as f:
        f.truncate(bounded_json.MAX_FILE_BYTES + 1)  # sparse: nothing is written to disk
    with pytest.raises(JsonInputError, match="larger than 64 MiB") as err:
        bounded_json.load_file(str(path))
    assert err.value.too_large
