"""No credential ships with a usable default outside `local`: the ingest token, Airflow's
database password, the S3 keys and Trino's passwords are secrets, and a value that once shipped
as a default is refused in `ci` and `cluster` with one line."""

import pytest

from pipelines.cli_support import UserError
from pipelines.ingest_api import ingest_token
from pipelines.lake.storage import s3_keys
from pipelines.security.secrets import SECRET_NAMES
from pipelines.services.postgres import airflow_password
from pipelines.services.trino import USERS
from pipelines.services.trino import password as trino_password
from pipelines.settings import Settings


def _settings(tmp_path, profile: str, **areas: dict) -> Settings:
    s3 = {"endpoint": "http://127.0.0.1:19000", **areas.pop("s3", {})}
    return Settings(
        profile=profile,
        run_dir=tmp_path / "run",
        secrets_dir=tmp_path / "secrets",
        lake={"root": "s3://lake/x"},
        s3=s3,
        **areas,
    )


def test_every_service_secret_is_named_for_secrets_init():
    """GIVEN the secret names `hazchem secrets init` generates THEN the ones of Trino, S3, the
    ingest token and Airflow's database role are among them."""
    wanted = {f"trino.{u}" for u in USERS} | {
        "trino.internal", "s3.access-key", "s3.secret-key", "ingest.http-token",
        "postgres.airflow",
    }  # fmt: skip
    assert wanted <= set(SECRET_NAMES)


def test_local_generates_each_secret_and_keeps_it(tmp_path):
    """GIVEN `local` and no secrets WHEN each credential is read twice
    THEN a generated value (no shipped default) comes back the same both times."""
    s = _settings(tmp_path, "local")
    values = [ingest_token(s), airflow_password(s), *s3_keys(s), trino_password(s, "analyst")]

    assert values == [
        ingest_token(s),
        airflow_password(s),
        *s3_keys(s),
        trino_password(s, "analyst"),
    ]
    assert all(len(v) >= 32 for v in values)
    assert not {"dev-token-change-me", "airflow", "hazchem-local-only", "hazchem"} & set(values)


@pytest.mark.parametrize("profile", ["ci", "cluster"])
@pytest.mark.parametrize(
    ("read", "name"),
    [
        (ingest_token, "ingest.http-token"),
        (airflow_password, "postgres.airflow"),
        (lambda s: trino_password(s, "lake_writer"), "trino.lake_writer"),
    ],
)
def test_ci_and_cluster_refuse_a_missing_secret(tmp_path, profile, read, name):
    """GIVEN ci/cluster and no secret WHEN a credential is read THEN one line names the secret."""
    with pytest.raises(UserError) as error:
        read(_settings(tmp_path, profile))

    assert str(error.value).startswith(f"secret {name!r} is not set in profile {profile!r}")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("areas", "read", "variable"),
    [
        ({"ingest": {"http_token": "dev-token-change-me"}}, ingest_token, "INGEST__HTTP_TOKEN"),
        ({"airflow": {"pg_password": "airflow"}}, airflow_password, "AIRFLOW__PG_PASSWORD"),
        (
            {"s3": {"access_key": "hazchem", "secret_key": "hazchem-local-only"}},
            s3_keys,
            "S3__SECRET_KEY",
        ),
    ],
)
def test_ci_refuses_the_shipped_defaults_set_in_the_environment(tmp_path, areas, read, variable):
    """GIVEN `ci` with a credential set to the value that used to ship as its default
    WHEN it is read THEN a one-line UserError names the variable."""
    with pytest.raises(UserError) as error:
        read(_settings(tmp_path, "ci", **areas))

    assert str(error.value) == f"HAZCHEM_{variable} is a default value, refused in profile 'ci'"
