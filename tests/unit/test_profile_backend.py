"""The launch profile's ``[backend]`` table (SMART Backend Services for the scrub): parsed with the profile,
every illegal combination refused with a message naming the key."""

from __future__ import annotations

from typing import Any

import pytest

from smart_app.profiles import BackendConfig, ProfileError, profile_from_mapping

BASE = {"name": "ehr", "iss": "https://ehr.example.org/fhir", "client_id": "app", "scopes": ["openid"]}
GOOD = {"client_id": "scrub", "private_key_env": "SCRUB_KEY", "key_id": "k1", "alg": "ES384",
        "scopes": ["system/ChargeItem.rs", "system/Patient.read"], "group_id": "clinic-1"}  # fmt: skip


def parse(**backend: Any) -> BackendConfig | None:
    return profile_from_mapping({**BASE, "backend": backend}).backend


def test_backend_table_is_parsed() -> None:
    backend = parse(**GOOD)
    assert backend == BackendConfig("scrub", None, "SCRUB_KEY", "k1", "ES384",
                                    ("system/ChargeItem.rs", "system/Patient.read"), "clinic-1")  # fmt: skip
    assert profile_from_mapping(BASE).backend is None
    defaults = parse(client_id_env="SCRUB_ID", private_key_env="K", key_id="k")
    assert (
        defaults is not None
        and defaults.alg == "RS384"
        and defaults.scopes == ()
        and defaults.group_id is None
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"client_id": None}, "client_id"),
        ({"private_key_env": None}, "private_key_env"),
        ({"key_id": ""}, "key_id"),
        ({"alg": "HS256"}, "alg must be one of RS384 | ES384"),
        ({"scopes": ["patient/ChargeItem.rs"]}, "system/ scopes"),
        ({"scopes": "system/*.rs"}, "scopes must be a list"),
        ({"group_id": "../admin"}, "group_id must be a FHIR id"),
        ({"private_key": "-----BEGIN"}, "unknown keys: private_key"),
        ({"token_url": "https://x"}, "unknown keys: token_url"),
    ],
)
def test_bad_backend_tables_are_refused(change: dict[str, Any], message: str) -> None:
    table = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(ProfileError, match=message.replace("|", r"\|")):
        profile_from_mapping({**BASE, "backend": table})


def test_backend_must_be_a_table() -> None:
    with pytest.raises(ProfileError, match=r"\[backend\] must be a table"):
        profile_from_mapping({**BASE, "backend": "scrub"})
