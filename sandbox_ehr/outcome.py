"""OperationOutcome errors: every failure the FHIR API reports carries one, naming the path or scope."""

from __future__ import annotations

from typing import Any


class FhirProblem(Exception):
    """An HTTP error with an OperationOutcome; ``expression`` is the FHIRPath of the offending element."""

    def __init__(
        self,
        status: int,
        code: str,
        diagnostics: str,
        expression: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.code = code
        self.diagnostics = diagnostics
        self.expression = expression
        self.headers = headers or {}

    def outcome(self) -> dict[str, Any]:
        return operation_outcome(self.code, self.diagnostics, self.expression)


def operation_outcome(
    code: str, diagnostics: str, expression: str | None = None, severity: str = "error"
) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}
