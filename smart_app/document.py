"""The ``document`` blueprint: the pages of one launch under ``/s/<handle>/``.

For now the first page: who the patient is (when the EHR asks for a banner), the encounter, the diagnoses,
the payer class and the clinician's role, each shown as "unknown" where the EHR did not say. The documentation
form is built on this page later.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, render_template

from smart_app.launches import launch_required
from smart_app.reads import read_launch_context

bp = Blueprint("document", __name__, url_prefix="/s/<handle>")


@bp.get("/")
@launch_required
def context(handle: str) -> str:
    """The launch's context, read in one round trip."""
    launch = g.launch
    reads = read_launch_context(
        launch.fhir_client(),
        patient_id=str(launch.context.patient),
        encounter_id=launch.context.encounter,
        fhir_user=launch.context.fhir_user,
        max_workers=int(current_app.config["SMART_EDU_READ_WORKERS"]),
    )
    return render_template("document/context.html", launch=launch.context, ctx=reads.context, handle=handle)
