"""The same export gives the same scrub.json in this process, in a process pool and on a Dask cluster."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smart_app.scrub.ndjson import index_export
from smart_app.scrub.parallel import partitions
from smart_app.scrub.run import Options, scrub_directory
from tests.scrub_data import busy_month, write_export


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("parallel") / "export"
    write_export(folder, copies=3, resources=busy_month())
    return folder


@pytest.fixture(scope="module")
def serial(export: Path) -> str:
    return json.dumps(scrub_directory(export, Options()), sort_keys=True)


def _run(export: Path, **options: Any) -> str:
    counted: list[int] = []
    doc = scrub_directory(export, Options(partition_charges=7, **options), counted.append)
    assert sum(counted) == sum(index_export(export).charges.values())  # progress saw every charge
    return json.dumps(doc, sort_keys=True)


def test_partitions_cover_every_patient_once(export: Path) -> None:
    index = index_export(export)
    parts = partitions(index, 7)
    assert len(parts) > 3
    patients = [p for part in parts for p in part.patients]
    assert patients == index.patient_ids()
    assert sum(part.charges for part in parts) == sum(index.charges.values())


def test_a_process_pool_gives_the_same_report(export: Path, serial: str) -> None:
    assert json.loads(serial)["summary"]["charges"] == 3 * 39 - 3  # 3 copies of 39 charges, one void in each
    assert _run(export, workers=2) == serial


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[str]:
    distributed = pytest.importorskip("dask.distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        # No dashboard, and the scheduler's HTTP server on a free port: with dashboard_address=None it still
        # binds the default 8787, which another process on the machine may hold.
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def test_a_dask_cluster_gives_the_same_report(export: Path, serial: str, dask_cluster: str) -> None:
    assert _run(export, scheduler=dask_cluster) == serial


def test_an_unreachable_scheduler_is_a_server_error(export: Path) -> None:
    from smart_app.scrub.errors import ScrubServerError

    with pytest.raises(ScrubServerError, match="cannot reach the Dask scheduler"):
        scrub_directory(export, Options(scheduler="tcp://127.0.0.1:9"))
