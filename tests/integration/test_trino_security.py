"""Trino's closed door: HTTPS only, a password for every client, and file-based rules that let
analysts read gold (never bronze) and nobody but the lake writer write bronze or gold."""

from __future__ import annotations

import uuid
from contextlib import closing
from typing import Any

import pytest
import requests
from trino.exceptions import TrinoUserError

from pipelines.security.pki import ca_file
from pipelines.services import trino as trino_service
from pipelines.settings import LakeSettings, Settings

pytestmark = pytest.mark.integration


def _run(settings: Settings, user: str, sql: str) -> list[list[Any]]:
    with closing(trino_service.connect(settings, user=user)) as conn:
        cur = conn.cursor()
        cur.execute(sql)
        return cur.fetchall()


def _statement(settings: Settings, auth: tuple[str, str] | None) -> requests.Response:
    """POST `SELECT 1` to the client protocol endpoint, as user `analyst`, with `auth` or none."""
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would replace the CA given below
    return session.post(
        f"https://{settings.trino.host}:{settings.trino.port}/v1/statement",
        data="SELECT 1",
        headers={"X-Trino-User": "analyst"},
        auth=auth,
        verify=str(ca_file(settings)),
        timeout=10,
    )


@pytest.fixture(scope="module")
def layers(trino: Settings, tmp_path_factory: pytest.TempPathFactory):
    """Private bronze_<id> and gold_<id> schemas, each with a one-row table `t`, written by the
    lake writer; dropped afterwards."""
    root = tmp_path_factory.mktemp("trino_security")
    settings = trino.model_copy(update={"lake": LakeSettings(root=str(root))})
    suffix = f"_it{uuid.uuid4().hex[:8]}"
    catalog = settings.trino.catalog
    names = {layer: f"{catalog}.{layer}{suffix}" for layer in ("bronze", "gold")}
    for layer, schema in names.items():
        location = trino_service.location(root / f"{layer}{suffix}")
        _run(settings, "lake_writer", f"CREATE SCHEMA {schema} WITH (location = '{location}')")
        _run(settings, "lake_writer", f"CREATE TABLE {schema}.t AS SELECT 1 AS n")
    yield settings, names
    for schema in names.values():
        _run(settings, "lake_writer", f"DROP TABLE IF EXISTS {schema}.t")
        _run(settings, "lake_writer", f"DROP TABLE IF EXISTS {schema}.made_by_analyst")
        _run(settings, "lake_writer", f"DROP SCHEMA IF EXISTS {schema}")


def test_no_password_is_401(trino: Settings):
    """GIVEN Trino with password authentication WHEN a query arrives with a user name only
    THEN it is refused with 401 and no query runs."""
    response = _statement(trino, auth=None)

    assert response.status_code == 401


def test_wrong_password_is_401(trino: Settings):
    """GIVEN Trino with password authentication WHEN `analyst` sends a wrong password
    THEN it is refused with 401."""
    response = _statement(trino, auth=("analyst", "not-the-password"))

    assert response.status_code == 401


def test_right_password_is_accepted(trino: Settings):
    """GIVEN the analyst's password WHEN the same request is sent THEN Trino accepts it (200)."""
    response = _statement(trino, auth=("analyst", trino_service.password(trino, "analyst")))

    assert response.status_code == 200


def test_plain_http_is_not_served(trino: Settings):
    """GIVEN Trino on HTTPS only WHEN a client speaks plain HTTP to its port
    THEN no query endpoint answers (the TLS listener refuses the request)."""
    session = requests.Session()
    session.trust_env = False
    try:
        response = session.get(f"http://{trino.trino.host}:{trino.trino.port}/v1/info", timeout=5)
    except requests.ConnectionError:
        return
    assert response.status_code == 400


def test_analyst_reads_gold_but_not_bronze(layers):
    """GIVEN one-row tables in gold and bronze WHEN the analyst selects from both
    THEN gold answers its row and bronze is denied."""
    settings, names = layers

    assert _run(settings, "analyst", f"SELECT n FROM {names['gold']}.t") == [[1]]
    with pytest.raises(TrinoUserError, match="Access Denied"):
        _run(settings, "analyst", f"SELECT n FROM {names['bronze']}.t")


@pytest.mark.parametrize("layer", ["bronze", "gold"])
@pytest.mark.parametrize("user", ["analyst", "admin"])
def test_only_the_lake_writer_writes_bronze_and_gold(layers, layer: str, user: str):
    """GIVEN a one-row table in bronze or gold WHEN the analyst or the admin inserts into it or
    creates a table there THEN both are denied and the table still holds its one row."""
    settings, names = layers
    schema = names[layer]

    with pytest.raises(TrinoUserError, match="Access Denied"):
        _run(settings, user, f"INSERT INTO {schema}.t VALUES (2)")
    with pytest.raises(TrinoUserError, match="Access Denied"):
        _run(settings, user, f"CREATE TABLE {schema}.made_by_analyst AS SELECT 1 AS n")
    assert _run(settings, "lake_writer", f"SELECT count(*) FROM {schema}.t") == [[1]]


def test_lake_writer_writes_bronze(layers):
    """GIVEN the bronze schema WHEN the lake writer creates a table there from a query
    (the local file system allows no INSERT into an existing Delta table)
    THEN the new table holds the query's row."""
    settings, names = layers
    table = f"{names['bronze']}.made_by_writer"

    _run(settings, "lake_writer", f"CREATE TABLE {table} AS SELECT 2 AS n")

    assert _run(settings, "lake_writer", f"SELECT n FROM {table}") == [[2]]
    _run(settings, "lake_writer", f"DROP TABLE {table}")
