"""A period's data from an EHR for ``smart-edu scrub``: FHIR Bulk Data ``$export`` with SMART Backend
Services, or paged search where the server has no ``$export``, written as NDJSON files in one folder.

The interface (what ``scrub`` calls)::

    from smart_app.bulk import fetch_to_directory, BulkError

    result = fetch_to_directory(fhir_base, profile, since, until, types, dest_dir, progress=None)

- ``fhir_base``: the FHIR base URL; with a ``profile`` it must be that profile's ``iss`` (its credentials are
  for that server only). ``profile`` None reads an open server without a token.
- ``profile``: the launch profile; its ``[backend]`` table (client id, key, alg, scopes, group id) is the
  SMART Backend Services registration (``smart_app.smart.backend``): ``client_credentials`` +
  ``private_key_jwt``, ``system/<Type>.rs`` scopes (v1 ``.read`` where the server wants them), the token kept
  until shortly before it expires and renewed on a 401.
- ``since``/``until``: the billing period (dates of service), checked and recorded. Bulk Data v2 cannot filter
  by date of service, and the charge rebuild needs each patient's older conditions, coverage and orders (and
  the year's charges for the KX total), so the period is applied by the scrub, not the server.
  ``changed_since=`` (an aware datetime) is sent as ``_since`` for incremental runs: only resources changed
  after it.
- ``types``: resource types (None = ``model.EXPORT_TYPES``), narrowed to those the CapabilityStatement lists.
- ``dest_dir``: created if missing; must hold no ``*.ndjson`` yet. Afterwards it holds one or more files per
  type, ``<Type>.ndjson``, ``<Type>.2.ndjson``, … (only these top-level files are data), and ``_export/`` with
  the manifest and the server's error files.
- ``progress``: called with ``model.Progress`` (stage, message, done, total) for a progress bar.
- Returns ``ExportResult`` (``method`` "bulk" or "search", ``files`` with type/path/count, ``counts``,
  ``errors``: the text of the manifest's OperationOutcomes, ``transaction_time``).
- Raises ``BulkConfigError`` (``exit_code`` 2: no ``[backend]``, key unset or invalid, another server's URL, a
  non-empty folder) or ``BulkServerError`` (``exit_code`` 3: refused token, kick-off, status, file or search;
  ``BulkTimeout`` after ``time_limit`` seconds). The export job is DELETEd at the end, after a failure and on
  Ctrl-C.

Where ``$export`` is offered (Group level when the profile names a group, else Patient level): kick-off with
``Prefer: respond-async``, ``_type`` and ``_outputFormat``; status polls honour ``Retry-After`` (seconds or an
HTTP-date) and report ``X-Progress``; files are streamed, with the token only where ``requiresAccessToken``
and only to the server's own origin.
"""

from smart_app.bulk.errors import BulkConfigError, BulkError, BulkServerError, BulkTimeout
from smart_app.bulk.fetch import fetch_to_directory
from smart_app.bulk.model import EXPORT_TYPES, ExportedFile, ExportResult, Progress

__all__ = [
    "EXPORT_TYPES",
    "BulkConfigError",
    "BulkError",
    "BulkServerError",
    "BulkTimeout",
    "ExportResult",
    "ExportedFile",
    "Progress",
    "fetch_to_directory",
]
