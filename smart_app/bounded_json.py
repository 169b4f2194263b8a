"""JSON from outside (CDS Hooks bodies, the page's API, the command line's files), with size and depth limits.

Why: ``json.loads`` recurses in C, and everything that walks the result recurses in Python, so a body nested
a few thousand levels deep ends in ``RecursionError`` (a 500, a traceback), and an unbounded read of
``/dev/zero`` never ends. The depth is measured before parsing, without recursion: strings are cut out, the
brackets that remain are paired off innermost first, one level per pass, at most ``max_depth`` passes of
C-speed ``str.replace``. Only then does ``json.loads`` see the text. Stdlib only (werkzeug is imported by
``request_json`` alone), so ``smart-edu check`` stays fast.
"""

from __future__ import annotations

import json
import os
import re
import stat
from typing import Any, BinaryIO

MAX_DEPTH = 64  # a FHIR Bundle nests about 12 levels; a Questionnaire with deep items stays well under 64
MAX_FILE_BYTES = 64 * 1024 * 1024  # one patient's context Bundle from the command line
MAX_BODY_BYTES = 5 * 1024 * 1024  # a CDS Hooks call with its prefetch Bundles

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_CURLY_AS_SQUARE = str.maketrans("{}", "[]")


class JsonInputError(ValueError):
    """JSON input refused; ``message`` is one line a person or a CDS client's log can show as it is."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.too_large = too_large


def nesting_depth_exceeds(text: str, max_depth: int) -> bool:
    """True when arrays/objects nest deeper than ``max_depth`` (or open that deep without closing)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text)).translate(_CURLY_AS_SQUARE)
    if "[" * (max_depth + 1) in brackets:  # the common attack, answered without a pass
        return True
    passes = 0
    while brackets:
        if passes == max_depth:
            return True
        shorter = brackets.replace("[]", "")
        if shorter == brackets:  # unbalanced: "]]…[[" is left; the unclosed openers still nest
            return passes + shorter.count("[") > max_depth
        brackets, passes = shorter, passes + 1
    return False


def _reject_constant(name: str) -> Any:
    raise JsonInputError(f"not JSON: {name} is not a JSON number")


def loads(data: bytes | str, *, max_bytes: int = MAX_BODY_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON text (UTF-8 when bytes) after checking its size and depth; ``JsonInputError`` otherwise."""
    if len(data) > max_bytes:
        raise JsonInputError(f"larger than {_size(max_bytes)}", too_large=True)
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise JsonInputError(f"not UTF-8 text (byte {exc.start + 1})") from None
    else:
        text = data
    if nesting_depth_exceeds(text, max_depth):
        raise JsonInputError(f"nested deeper than {max_depth} levels")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise JsonInputError(f"not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer longer than Python converts
        if isinstance(exc, JsonInputError):
            raise
        raise JsonInputError(f"not usable JSON ({str(exc).split(';')[0].lower()})") from None


def read_capped(stream: BinaryIO, max_bytes: int) -> bytes:
    """At most ``max_bytes`` from ``stream``; ``JsonInputError`` (too large) when there is more."""
    chunks: list[bytes] = []
    total = 0
    while total <= max_bytes:
        chunk = stream.read(min(1024 * 1024, max_bytes + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    if total > max_bytes:
        raise JsonInputError(f"larger than {_size(max_bytes)}", too_large=True)
    return b"".join(chunks)


def request_json(request: Any, *, max_bytes: int = MAX_BODY_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """A werkzeug request's JSON body: refused by its declared length before reading, and read with a cap
    (a chunked body declares none)."""
    from werkzeug.exceptions import RequestEntityTooLarge

    length = request.content_length
    if length is not None and length > max_bytes:
        raise JsonInputError(f"larger than {_size(max_bytes)}", too_large=True)
    try:
        raw = read_capped(request.stream, max_bytes)
    except RequestEntityTooLarge:
        raise JsonInputError(f"larger than {_size(max_bytes)}", too_large=True) from None
    return loads(raw, max_bytes=max_bytes, max_depth=max_depth)


def load_file(path: str, *, max_bytes: int = MAX_FILE_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """A JSON file from the command line: a regular file only (never a device, FIFO or directory), read with a
    byte cap. Opened non-blocking so a FIFO with no writer cannot hang the command before it is refused."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise JsonInputError("file not found") from None
    except IsADirectoryError:
        raise JsonInputError("a directory, not a file") from None
    except PermissionError:
        raise JsonInputError("permission denied") from None
    except OSError as exc:
        raise JsonInputError(f"cannot open the file ({exc.strerror or type(exc).__name__})") from None
    try:
        info = os.fstat(fd)
        kind = _kind(info.st_mode)
        if kind:
            raise JsonInputError(f"not a regular file ({kind})")
        if info.st_size > max_bytes:
            raise JsonInputError(f"larger than {_size(max_bytes)}", too_large=True)
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=False) as stream:
            raw = read_capped(stream, max_bytes)
    except OSError as exc:
        raise JsonInputError(f"cannot read the file ({exc.strerror or type(exc).__name__})") from None
    finally:
        os.close(fd)
    return loads(raw, max_bytes=max_bytes, max_depth=max_depth)


def _kind(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a plain file"


def _size(n: int) -> str:
    if n >= 1024 * 1024 and n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MiB"
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024} KiB"
    return f"{n} bytes"
