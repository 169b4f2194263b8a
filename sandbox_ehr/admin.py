"""Admin endpoints for tests and demos: fault injection and reset. JSON only (a form post cannot reach
them across sites), and off when ``faults_enabled`` is false.

    POST   /_sandbox/faults  {"client_id": "smart-edu", "path": "/fhir/ChargeItem", "status": 503,
                              "retry_after": 2, "times": 1}          → 201 with the fault (and its id)
    GET    /_sandbox/faults                                          → the active faults
    DELETE /_sandbox/faults                                          → clear them all
    POST   /_sandbox/expire-tokens {"client_id": "smart-edu"}     → every live access token expires now
    POST   /_sandbox/reset  {}                                       → seeded data, no tokens, no faults
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, Response, abort, current_app, jsonify, request

if TYPE_CHECKING:
    from sandbox_ehr.app import SandboxState

bp = Blueprint("admin", __name__, url_prefix="/_sandbox")


def state() -> SandboxState:
    return current_app.extensions["sandbox"]


@bp.before_request
def enabled() -> None:
    if not state().config.faults_enabled:
        abort(404)
    if request.method == "POST" and not request.is_json:
        abort(415, description="send application/json")


@bp.get("/faults")
def list_faults() -> Response:
    return jsonify([f.to_dict() for f in state().faults.active()])


@bp.post("/faults")
def add_fault() -> tuple[Response, int]:
    spec = request.get_json(silent=True)
    if not isinstance(spec, dict):
        abort(400, description="body must be a JSON object")
    try:
        fault = state().faults.add(**spec)
    except (TypeError, ValueError) as exc:
        abort(400, description=str(exc))
    return jsonify(fault.to_dict()), 201


@bp.delete("/faults")
def clear_faults() -> tuple[str, int]:
    state().faults.clear()
    return "", 204


@bp.post("/expire-tokens")
def expire_tokens() -> Response:
    spec = request.get_json(silent=True) or {}
    client_id = spec.get("client_id") if isinstance(spec, dict) else None
    return jsonify({"expired": state().tokens.expire_access_tokens(client_id)})


@bp.post("/reset")
def reset() -> tuple[str, int]:
    state().reset()
    return "", 204
