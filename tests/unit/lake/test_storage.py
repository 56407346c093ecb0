"""Where the lake lives: one set of S3 settings turned into each engine's configuration."""

from __future__ import annotations

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from pipelines.cli_support import UserError
from pipelines.lake import storage
from pipelines.settings import Settings


def _settings(root: str, profile: str = "local", **s3: object) -> Settings:
    return Settings(profile=profile, lake={"root": root}, s3=s3)


@pytest.fixture
def s3_secrets(tmp_path, monkeypatch):
    """The secrets s3.access-key / s3.secret-key stored in a folder under tmp_path."""
    from pipelines.security.secrets import write_secret

    monkeypatch.setenv("HAZCHEM_SECRETS_DIR", str(tmp_path / "secrets"))
    settings = _settings("/lake")
    write_secret(settings, "s3.access-key", "ak-from-secret")
    write_secret(settings, "s3.secret-key", "sk-from-secret-0123456789")


def test_s3_uris_are_told_from_local_paths_and_split_into_bucket_and_key() -> None:
    assert storage.is_s3("s3://lake/bronze") and storage.is_s3("s3a://lake/x")
    assert not storage.is_s3("/data/lake") and not storage.is_s3("file:///data/lake")
    assert not storage.is_s3("gs://lake/x")
    assert storage.split_s3("s3://hazchem/lake/bronze/") == ("hazchem", "lake/bronze")
    assert storage.split_s3("s3://hazchem") == ("hazchem", "")
    assert storage.join("s3://b/lake/", "bronze", "/readings") == "s3://b/lake/bronze/readings"
    with pytest.raises(UserError, match="not an S3 URI"):
        storage.split_s3("/data/lake")
    with pytest.raises(UserError, match="without a bucket"):
        storage.split_s3("s3:///lake")


def test_a_local_lake_needs_no_object_store_settings() -> None:
    settings = _settings("/data/lake")
    assert storage.delta_storage_options(settings) is None
    assert storage.spark_config(settings) == {}
    assert storage.local_path("file:///data/lake") == "/data/lake"


def test_local_profile_points_an_s3_lake_at_the_local_server_for_every_engine(
    s3_secrets,
) -> None:
    """GIVEN an s3:// lake in `local` and the S3 secrets WHEN each engine's configuration is
    built THEN all point at the local server and sign with the secret keys."""
    settings = _settings("s3://hazchem/lake")
    assert storage.delta_storage_options(settings) == {
        "AWS_REGION": "us-east-1",
        "AWS_S3_ALLOW_UNSAFE_RENAME": "true",
        "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "false",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:19000",
        "AWS_ALLOW_HTTP": "true",
        "AWS_ACCESS_KEY_ID": "ak-from-secret",
        "AWS_SECRET_ACCESS_KEY": "sk-from-secret-0123456789",
    }
    assert storage.spark_config(settings) == {
        "spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.endpoint.region": "us-east-1",
        "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.endpoint": "http://127.0.0.1:19000",
        "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
        "spark.hadoop.fs.s3a.aws.credentials.provider": (
            "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
        ),
        "spark.hadoop.fs.s3a.access.key": "ak-from-secret",
        "spark.hadoop.fs.s3a.secret.key": "sk-from-secret-0123456789",
    }
    assert storage.trino_catalog_properties(settings) == [
        "fs.native-s3.enabled=true",
        "s3.region=us-east-1",
        "s3.path-style-access=true",
        "s3.endpoint=http://127.0.0.1:19000",
        "s3.aws-access-key=ak-from-secret",
        "s3.aws-secret-key=sk-from-secret-0123456789",
    ]


def test_ci_profile_uses_its_own_server_port(s3_secrets) -> None:
    settings = _settings("s3://hazchem/lake", profile="ci")
    assert storage.delta_storage_options(settings)["AWS_ENDPOINT_URL"] == "http://127.0.0.1:29000"


def test_ci_refuses_missing_s3_secrets_and_the_shipped_default_key(tmp_path, monkeypatch) -> None:
    """GIVEN the `ci` profile WHEN its S3 keys are missing, or the secret key is the old shipped
    default THEN a one-line UserError names what is wrong."""
    monkeypatch.setenv("HAZCHEM_SECRETS_DIR", str(tmp_path / "empty"))
    with pytest.raises(UserError, match=r"^secret 's3.access-key' is not set in profile 'ci'"):
        storage.s3_keys(_settings("s3://hazchem/lake", profile="ci"))
    shipped = _settings(
        "s3://hazchem/lake", profile="ci", access_key="hazchem", secret_key="hazchem-local-only"
    )
    with pytest.raises(UserError) as error:
        storage.s3_keys(shipped)
    assert str(error.value) == (
        "HAZCHEM_S3__SECRET_KEY is a default value, refused in profile 'ci'"
    )


def test_cluster_profile_uses_aws_s3_and_the_default_credential_chain() -> None:
    settings = _settings("s3://plant-lake/prod", profile="cluster", region="cn-north-1")
    assert storage.delta_storage_options(settings) == {
        "AWS_REGION": "cn-north-1",
        "AWS_S3_ALLOW_UNSAFE_RENAME": "true",
        "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "true",
    }
    assert storage.spark_config(settings) == {
        "spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.endpoint.region": "cn-north-1",
        "spark.hadoop.fs.s3a.path.style.access": "false",
    }
    assert storage.trino_catalog_properties(settings) == [
        "fs.native-s3.enabled=true",
        "s3.region=cn-north-1",
        "s3.path-style-access=false",
    ]
    assert storage.trino_catalog_properties(_settings("/data/lake", profile="cluster")) == []


def test_an_endpoint_that_is_not_http_is_a_clear_error() -> None:
    settings = _settings("s3://hazchem/lake", endpoint="127.0.0.1:9000")
    with pytest.raises(UserError, match="HAZCHEM_S3__ENDPOINT must be http"):
        storage.delta_storage_options(settings)


def test_delta_tables_lists_only_folders_holding_a_delta_log_and_read_delta_filters(
    tmp_path,
) -> None:
    import pyarrow.dataset as pa_ds

    settings = _settings(str(tmp_path))
    table = pa.table({"tag": ["A", "B", "A"], "value": [1.0, 2.0, 3.0], "day": ["1", "1", "2"]})
    write_deltalake(str(tmp_path / "bronze" / "readings"), table, partition_by=["day"])
    (tmp_path / "bronze" / "not_a_table").mkdir()
    (tmp_path / "bronze" / "notes.txt").write_text("x")

    found = storage.delta_tables(settings, str(tmp_path / "bronze"))

    assert found == {"readings": str(tmp_path / "bronze" / "readings")}
    assert storage.delta_tables(settings, str(tmp_path / "missing")) == {}
    rows = storage.read_delta(
        settings, found["readings"], ["tag", "value", "day"], pa_ds.field("day") == "1"
    ).to_pylist()
    assert sorted(rows, key=lambda r: r["tag"]) == [
        {"tag": "A", "value": 1.0, "day": "1"},
        {"tag": "B", "value": 2.0, "day": "1"},
    ]
