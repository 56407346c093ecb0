"""No credential of Trino, the local S3 or Airflow ships with a usable default: each is a
secret, and an S3 key that once shipped as a default is refused in `ci` and `cluster` with one
line."""

import pytest

from pipelines.cli_support import UserError
from pipelines.lake.storage import s3_keys
from pipelines.security.secrets import SECRET_NAMES
from pipelines.services.trino import USERS
from pipelines.services.trino import password as trino_password
from pipelines.settings import Settings


def _settings(tmp_path, profile: str, **s3: str) -> Settings:
    return Settings(
        profile=profile,
        run_dir=tmp_path / "run",
        secrets_dir=tmp_path / "secrets",
        lake={"root": "s3://lake/x"},
        s3={"endpoint": "http://127.0.0.1:19000", **s3},
    )


def test_every_service_secret_is_named_for_secrets_init():
    """GIVEN the secret names `hazchem secrets init` generates THEN Trino's users and shared
    secret, the S3 keys and Airflow's signing keys are among them."""
    wanted = {f"trino.{u}" for u in USERS} | {
        "trino.internal", "s3.access-key", "s3.secret-key", "airflow.secret-key",
        "airflow.jwt-secret",
    }  # fmt: skip
    assert wanted <= set(SECRET_NAMES)


def test_local_generates_each_secret_and_keeps_it(tmp_path):
    """GIVEN `local` and no secrets WHEN the S3 keys and a Trino password are read twice
    THEN generated values (no shipped default) come back the same both times."""
    s = _settings(tmp_path, "local")
    values = [*s3_keys(s), trino_password(s, "analyst")]

    assert values == [*s3_keys(s), trino_password(s, "analyst")]
    assert all(len(v) >= 32 for v in values)
    assert not {"hazchem-local-only", "hazchem"} & set(values)


@pytest.mark.parametrize("profile", ["ci", "cluster"])
def test_ci_and_cluster_refuse_a_missing_trino_password(tmp_path, profile):
    """GIVEN ci/cluster and no secret WHEN a Trino password is read THEN one line names it."""
    with pytest.raises(UserError) as error:
        trino_password(_settings(tmp_path, profile), "lake_writer")

    assert str(error.value).startswith(
        f"secret 'trino.lake_writer' is not set in profile {profile!r}"
    )
    assert "\n" not in str(error.value)


def test_ci_refuses_the_shipped_s3_default_set_in_the_environment(tmp_path):
    """GIVEN `ci` with the S3 keys that used to ship as defaults WHEN they are read
    THEN a one-line UserError names the variable."""
    s = _settings(tmp_path, "ci", access_key="hazchem", secret_key="hazchem-local-only")

    with pytest.raises(UserError) as error:
        s3_keys(s)

    assert str(error.value) == "HAZCHEM_S3__SECRET_KEY is a default value, refused in profile 'ci'"
