"""Structured logs: one JSON object per line under ``serve`` (``SMART_EDU_LOG_FORMAT=json|text``).

Why: a hospital's log pipeline (journald, Splunk, ELK) indexes fields, not prose, and an incident is followed
by request id across the load balancer, the app and the EHR. Every line carries ``time`` (UTC ISO),
``level``, ``event``, ``logger`` and, inside a request, ``request_id``, ``route`` (the URL rule, e.g.
``/s/<handle>/sign``, never the concrete handle) and ``method``; the ``request`` event adds ``status`` and
``duration_ms``. Events pass their fields explicitly (``event(log, "token.refresh", outcome="ok")``) and
never carry a launch handle, a token, note text or patient data. ``Redactor`` is the defence in depth: it
rewrites anything that still looks like one (a ``/s/<handle>`` path, a bearer token, a JWT, a code or state
query parameter, a secret-named field) on every line of every logger, gunicorn's included.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any

FORMATS = ("json", "text")
FIELDS_ATTR = "smart_edu_fields"
EVENT_ATTR = "smart_edu_event"
REQUEST_ID_HEADER = "X-Request-Id"
# A load balancer's or gateway's id is kept when it is a plain token; anything else is replaced, so a header
# can neither forge log structure nor smuggle text into every line.
VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
HIDDEN = "…"

# Field names whose values are never logged, whatever a caller passes (defence in depth).
SECRET_KEYS = frozenset(
    {
        "access_token", "refresh_token", "id_token", "token", "code", "state", "handle", "launch",
        "client_secret", "secret", "password", "authorization", "cookie", "note", "note_text", "text",
        "patient", "patient_id", "patient_name", "name", "birthdate", "code_verifier",
    }
)  # fmt: skip
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"/s/[^/\s?#\"'<>]+"), "/s/" + HIDDEN),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]+=*"), r"\1 " + HIDDEN),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*"), HIDDEN),
    (
        re.compile(
            r"(?i)\b(code|state|launch|access_token|refresh_token|id_token|token|client_secret|"
            r"code_verifier|password|s)=[^&\s\"'<>]+"
        ),
        r"\1=" + HIDDEN,
    ),
    (
        re.compile(
            r"(?i)(\"(?:access_token|refresh_token|id_token|client_secret|code_verifier)\"\s*:\s*)\"[^\"]*\""
        ),
        r'\1"' + HIDDEN + '"',
    ),
)


def redact(text: str) -> str:
    """``text`` with every handle path, bearer token, JWT and secret-named parameter replaced."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _clean(key: str, value: Any) -> Any:
    if key.lower() in SECRET_KEYS:
        return HIDDEN
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): _clean(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(key, v) for v in value]
    return redact(str(value))


def event(logger: logging.Logger, name: str, *, level: int = logging.INFO, **fields: Any) -> None:
    """Log the event ``name`` (dotted, e.g. ``writeback.result``) with its fields."""
    logger.log(level, name, extra={EVENT_ATTR: name, FIELDS_ATTR: fields})


class Redactor(logging.Filter):
    """Rewrites the message, its arguments and the event fields of every record passing the handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad %-format in a library's call: keep what can be shown
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        fields = getattr(record, FIELDS_ATTR, None)
        if isinstance(fields, Mapping):
            setattr(record, FIELDS_ATTR, {k: _clean(k, v) for k, v in fields.items()})
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class RequestContext(logging.Filter):
    """Adds the current request's id, route template and method to records logged inside a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            from flask import g, has_request_context, request
        except ImportError:  # pragma: no cover - the app always has Flask
            return True
        if has_request_context():
            record.request_id = g.get("request_id")
            record.route = request.url_rule.rule if request.url_rule is not None else None
            record.method = request.method
        return True


def _time(record: logging.LogRecord) -> str:
    stamp = datetime.fromtimestamp(record.created, UTC)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("request_id", "route", "method"):
        value = getattr(record, key, None)
        if value is not None:
            out[key] = value
    fields = getattr(record, FIELDS_ATTR, None)
    if isinstance(fields, Mapping):
        out.update(fields)
    return out


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, event, logger, the request's fields, the event's fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname.lower(),
            "event": getattr(record, EVENT_ATTR, None) or "log",
            "logger": record.name,
        }
        line.update(_fields(record))
        if getattr(record, EVENT_ATTR, None) is None:
            line["message"] = record.getMessage()
        if record.exc_info or record.exc_text:
            line["exception"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(line, default=str, ensure_ascii=False, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """The same fields for a person: ``time LEVEL event key=value …``."""

    def format(self, record: logging.LogRecord) -> str:
        name = getattr(record, EVENT_ATTR, None)
        parts = [_time(record), record.levelname, name or record.name]
        if name is None:
            parts.append(record.getMessage())
        parts += [f"{k}={_text_value(v)}" for k, v in _fields(record).items()]
        text = " ".join(parts)
        if record.exc_info or record.exc_text:
            text += "\n" + (record.exc_text or self.formatException(record.exc_info))  # type: ignore[arg-type]
        return text


def _text_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return json.dumps(text) if (not text or any(c.isspace() for c in text)) else text


def formatter(fmt: str) -> logging.Formatter:
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r}: json or text is expected")
    return JsonFormatter() if fmt == "json" else TextFormatter()


def prepare_handler(handler: logging.Handler, fmt: str) -> logging.Handler:
    """Give ``handler`` the format and both filters (the request context first, so it is redacted too)."""
    handler.setFormatter(formatter(fmt))
    for f in list(handler.filters):
        if isinstance(f, RequestContext | Redactor):
            handler.removeFilter(f)
    handler.addFilter(RequestContext())
    handler.addFilter(Redactor())
    return handler


def configure(fmt: str, *, level: int = logging.INFO, stream: IO[str] | None = None) -> logging.Handler:
    """Send every logger's records to ``stream`` (stderr) in ``fmt``; replaces a handler set here before."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "smart_edu", False)]:
        root.removeHandler(old)
    handler = prepare_handler(logging.StreamHandler(stream or sys.stderr), fmt)
    handler.smart_edu = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))  # its INFO is a line per migration
    return handler


# -- the request line ----------------------------------------------------------------------------------------

request_log = logging.getLogger("smart_app.request")


def init_app(app: Any) -> None:
    """A request id for every request (a valid ``X-Request-Id`` is kept, else a new one), echoed in the
    response, and one ``request`` event per request with its route template, status and duration."""
    from flask import Response, g, request

    @app.before_request
    def _start() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        request_id = g.get("request_id") or uuid.uuid4().hex
        response.headers[REQUEST_ID_HEADER] = request_id
        started = g.get("request_started")
        duration = (time.perf_counter() - started) * 1000 if started else None
        level = logging.ERROR if response.status_code >= 500 else logging.INFO
        event(
            request_log,
            "request",
            level=level,
            status=response.status_code,
            duration_ms=round(duration, 1) if duration is not None else None,
        )
        return response
