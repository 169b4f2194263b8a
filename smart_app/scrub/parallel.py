"""Run the same patient partitions in this process, in a local process pool, or on a Dask cluster.

A partition is a list of patients with their raw NDJSON lines: it carries its own data, so a Dask worker needs
no access to the export folder. Every executor runs ``scrub_partition`` on the same partitions and the rows
are sorted the same way afterwards, so the report is identical whichever ran it. At most ``2 x workers``
partitions are in flight, which bounds the memory of the coordinating process; in this process (one worker)
patients are read and scrubbed one at a time, so memory follows one patient's data.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from billing_rules import default_rules
from smart_app.scrub.batch_gc import batch_gc
from smart_app.scrub.engine import Period, scrub_lines
from smart_app.scrub.errors import ScrubServerError
from smart_app.scrub.ndjson import ExportIndex

Rows = list[dict[str, Any]]
Done = Callable[[int], None]  # told how many charges a finished piece of work held
Sink = Callable[[Rows], None]  # takes each finished piece's rows (the report's row store)
PARTITION_CHARGES = 2000  # charges per partition: big enough to amortise a task, small enough to balance


@dataclass(frozen=True)
class Partition:
    patients: tuple[str, ...]
    charges: int


def partitions(index: ExportIndex, target: int = PARTITION_CHARGES) -> list[Partition]:
    """Patients in id order, cut into partitions of about ``target`` charges (fixed by the data alone)."""
    out: list[Partition] = []
    current: list[str] = []
    count = 0
    for patient in index.patient_ids():
        current.append(patient)
        count += index.charges[patient]
        if count >= target:
            out.append(Partition(tuple(current), count))
            current, count = [], 0
    if current:
        out.append(Partition(tuple(current), count))
    return out


def scrub_partition(
    payload: list[tuple[str, list[bytes]]], shared: dict[str, Any], period: Period
) -> tuple[str, Rows]:
    """Rows of every patient of one partition, and the rules version that produced them (runs on a worker)."""
    rules = default_rules()
    rows: Rows = []
    with batch_gc():
        for patient_id, lines in payload:
            rows.extend(scrub_lines(patient_id, lines, shared, rules, period))
    return rules.version, rows


def _payload(index: ExportIndex, part: Partition) -> list[tuple[str, list[bytes]]]:
    return [(p, index.read_lines(p)) for p in part.patients]


def run_serial(index: ExportIndex, period: Period, done: Done, sink: Sink) -> set[str]:
    rules = default_rules()
    for patient in index.patient_ids():
        sink(scrub_lines(patient, index.read_lines(patient), index.shared, rules, period))
        done(index.charges[patient])
    return {rules.version}


def run_pool(
    index: ExportIndex, period: Period, done: Done, sink: Sink, workers: int, target: int
) -> set[str]:
    """A process pool on this machine (spawned workers: nothing inherited from this process's threads)."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:

        def submit(part: Partition) -> Future[tuple[str, Rows]]:
            return pool.submit(scrub_partition, _payload(index, part), index.shared, period)

        return _bounded(partitions(index, target), submit, done, sink, 2 * workers)


def _bounded(
    parts: list[Partition], submit: Callable[[Partition], Any], done: Done, sink: Sink, window: int
) -> set[str]:
    versions: set[str] = set()
    pending: dict[Any, Partition] = {}
    queue: Iterator[Partition] = iter(parts)
    for part in queue:
        pending[submit(part)] = part
        if len(pending) >= window:
            break
    while pending:
        finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
        for future in finished:
            part = pending.pop(future)
            version, got = future.result()
            versions.add(version)
            sink(got)
            done(part.charges)
            nxt = next(queue, None)
            if nxt is not None:
                pending[submit(nxt)] = nxt
    return versions


def run_dask(
    index: ExportIndex, period: Period, done: Done, sink: Sink, address: str, target: int
) -> set[str]:
    """The same partitions on an existing Dask cluster (``dask.distributed``: the optional ``[dask]``)."""
    try:
        from dask.distributed import Client, as_completed
    except ImportError as exc:
        raise ScrubServerError(
            "--scheduler needs dask.distributed: pip install 'smart-edu-billing[dask]'"
        ) from exc
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise ScrubServerError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
    with client:
        shared = client.scatter(index.shared, broadcast=True)
        window = 2 * max(1, len(client.scheduler_info().get("workers", {})))
        parts = partitions(index, target)
        queue = iter(parts)
        versions: set[str] = set()
        owners: dict[Any, Partition] = {}

        def submit(part: Partition) -> Any:
            future = client.submit(scrub_partition, _payload(index, part), shared, period, pure=False)
            owners[future.key] = part
            return future

        started = [submit(p) for _, p in zip(range(window), queue, strict=False)]
        stream = as_completed(started)
        for future in stream:
            version, got = future.result()
            versions.add(version)
            sink(got)
            done(owners.pop(future.key).charges)
            nxt = next(queue, None)
            if nxt is not None:
                stream.add(submit(nxt))
        return versions
