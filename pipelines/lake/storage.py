"""Where the lake lives, and how each engine reaches it: a local folder or an S3 bucket.

The lake root (`HAZCHEM_LAKE__ROOT`) is a local folder in the `local` and `ci` profiles and an
`s3://bucket/prefix` URI in `cluster` (any profile may use one: `hazchem up --with s3` runs an
S3-compatible server on this machine). Every engine takes its view of the lake from this module,
so one set of settings (`HAZCHEM_S3__*`) serves them all:

- deltalake (delta-rs): `delta_storage_options` (object_store keys);
- Arrow (readers here and in dbt-duckdb's Delta plugin): `arrow_filesystem`, a native filesystem
  (deltalake's Python filesystem handler leaves I/O threads behind that abort the process at exit);
- Spark: `spark_config` (the s3a connector serving `s3://` URIs too, so a table has one URI);
- Trino: `trino_catalog_properties` (its native S3 filesystem).

Example: `read_delta(settings, f"{settings.lake.root}/bronze/readings", columns=["tag"])`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pipelines.cli_support import UserError
from pipelines.settings import Settings

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.dataset as pa_ds
    import pyarrow.fs as pa_fs

S3_SCHEMES = ("s3", "s3a")


def is_s3(uri: str | Path) -> bool:
    """True when `uri` names an S3 location (`s3://` or Hadoop's `s3a://`)."""
    return str(uri).split("://", 1)[0] in S3_SCHEMES and "://" in str(uri)


def join(root: str | Path, *parts: str) -> str:
    """Join a lake root (folder or URI) and path parts with `/`."""
    return "/".join([str(root).rstrip("/"), *(p.strip("/") for p in parts)])


def split_s3(uri: str) -> tuple[str, str]:
    """Return (bucket, key) of an `s3://bucket/key` URI; the key has no leading or trailing `/`."""
    if not is_s3(uri):
        raise UserError(f"not an S3 URI: {uri!r} (expected s3://bucket/prefix)")
    parts = urlsplit(uri)
    if not parts.netloc:
        raise UserError(f"S3 URI without a bucket: {uri!r}")
    return parts.netloc, parts.path.strip("/")


def local_path(uri: str | Path) -> str:
    """Return the absolute local path of a folder or `file://` location."""
    text = str(uri)
    if text.startswith("file://"):
        text = text[len("file://") :]
    elif "://" in text:
        raise UserError(f"not a local path: {text!r} (of object stores only S3 is supported)")
    return str(Path(text).resolve())


def _endpoint(settings: Settings) -> tuple[str, str] | None:
    """Return (scheme, host:port) of the configured S3 endpoint, or None for AWS."""
    endpoint = settings.s3.endpoint
    if not endpoint:
        return None
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UserError(f"HAZCHEM_S3__ENDPOINT must be http(s)://host:port, got {endpoint!r}")
    return parts.scheme, parts.netloc


def delta_storage_options(settings: Settings, uri: str | None = None) -> dict[str, str] | None:
    """Return deltalake's `storage_options` for `uri` (default: the lake root); None when local."""
    if not is_s3(uri if uri is not None else settings.lake.root):
        return None
    s3 = settings.s3
    options = {
        "AWS_REGION": s3.region,
        # One writer per table (the bronze job per topic table, the publish steps for reference
        # and catalog tables), so no DynamoDB lock is needed for delta-rs's commits.
        "AWS_S3_ALLOW_UNSAFE_RENAME": "true",
        "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "false" if s3.path_style else "true",
    }
    endpoint = _endpoint(settings)
    if endpoint:
        options["AWS_ENDPOINT_URL"] = f"{endpoint[0]}://{endpoint[1]}"
        options["AWS_ALLOW_HTTP"] = "true" if endpoint[0] == "http" else "false"
    keys = s3_keys(settings)
    if keys:
        options["AWS_ACCESS_KEY_ID"], options["AWS_SECRET_ACCESS_KEY"] = keys
    return options


def arrow_filesystem(
    settings: Settings, uri: str, allow_bucket_creation: bool = False
) -> tuple[pa_fs.FileSystem, str]:
    """Return a native Arrow filesystem and the path of `uri` on it (`bucket/key` on S3)."""
    import pyarrow.fs as pa_fs

    if not is_s3(uri):
        return pa_fs.LocalFileSystem(), local_path(uri)
    bucket, key = split_s3(uri)
    s3 = settings.s3
    kwargs: dict[str, Any] = {
        "region": s3.region,
        "force_virtual_addressing": not s3.path_style,
        "allow_bucket_creation": allow_bucket_creation,
    }
    endpoint = _endpoint(settings)
    if endpoint:
        kwargs["scheme"], kwargs["endpoint_override"] = endpoint
    keys = s3_keys(settings)
    if keys:
        kwargs["access_key"], kwargs["secret_key"] = keys
    return pa_fs.S3FileSystem(**kwargs), f"{bucket}/{key}".rstrip("/")


def delta_dataset(settings: Settings, uri: str) -> pa_ds.Dataset:
    """Return a Delta table's current snapshot as an Arrow dataset (partition columns included)."""
    import pyarrow.dataset as pa_ds
    import pyarrow.fs as pa_fs
    from deltalake import DeltaTable

    table = DeltaTable(uri, storage_options=delta_storage_options(settings, uri))
    filesystem, path = arrow_filesystem(settings, uri)
    # Spark may write INT96 timestamps; read them as the microseconds Delta declares.
    options = pa_ds.ParquetReadOptions(coerce_int96_timestamp_unit="us")
    return table.to_pyarrow_dataset(
        filesystem=pa_fs.SubTreeFileSystem(path, filesystem), parquet_read_options=options
    )


def read_delta(
    settings: Settings,
    uri: str,
    columns: list[str] | None = None,
    filter: pa_ds.Expression | None = None,  # noqa: A002 - pyarrow's own name for it
) -> pa.Table:
    """Read (columns of, rows matching `filter` in) a Delta table's current snapshot."""
    return delta_dataset(settings, uri).to_table(columns=columns, filter=filter)


def is_delta_table(settings: Settings, uri: str) -> bool:
    """True when `uri` holds a Delta table (a `_delta_log` folder with a commit)."""
    import pyarrow.fs as pa_fs

    filesystem, path = arrow_filesystem(settings, uri)
    info = filesystem.get_file_info(pa_fs.FileSelector(f"{path}/_delta_log", allow_not_found=True))
    return any(i.path.endswith(".json") for i in info)


def delta_tables(settings: Settings, folder: str) -> dict[str, str]:
    """Return {name: location} of the Delta tables directly under a lake folder (sorted)."""
    import pyarrow.fs as pa_fs

    filesystem, path = arrow_filesystem(settings, folder)
    found: dict[str, str] = {}
    entries = filesystem.get_file_info(pa_fs.FileSelector(path, allow_not_found=True))
    for entry in sorted(entries, key=lambda e: e.base_name):
        if entry.type == pa_fs.FileType.Directory:
            location = join(folder, entry.base_name)
            if is_delta_table(settings, location):
                found[entry.base_name] = location if is_s3(folder) else local_path(location)
    return found


def spark_config(settings: Settings) -> dict[str, str]:
    """Return the Spark settings that let it read and write `s3://` lake locations (s3a)."""
    if not is_s3(settings.lake.root):
        return {}
    s3 = settings.s3
    config = {
        # One URI per table for every engine: Spark serves s3:// with the s3a connector too.
        "spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.endpoint.region": s3.region,
        "spark.hadoop.fs.s3a.path.style.access": str(s3.path_style).lower(),
    }
    endpoint = _endpoint(settings)
    if endpoint:
        config["spark.hadoop.fs.s3a.endpoint"] = f"{endpoint[0]}://{endpoint[1]}"
        config["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(endpoint[0] == "https").lower()
    keys = s3_keys(settings)
    if keys:
        config["spark.hadoop.fs.s3a.aws.credentials.provider"] = (
            "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
        )
        config["spark.hadoop.fs.s3a.access.key"], config["spark.hadoop.fs.s3a.secret.key"] = keys
    return config


def trino_catalog_properties(settings: Settings) -> list[str]:
    """Return the catalog lines enabling Trino's native S3 filesystem ([] when none configured)."""
    s3 = settings.s3
    if not (is_s3(settings.lake.root) or s3.endpoint):
        return []
    lines = [
        "fs.native-s3.enabled=true",
        f"s3.region={s3.region}",
        f"s3.path-style-access={str(s3.path_style).lower()}",
    ]
    endpoint = _endpoint(settings)
    if endpoint:
        lines.append(f"s3.endpoint={endpoint[0]}://{endpoint[1]}")
    keys = s3_keys(settings)
    if keys:
        lines += [f"s3.aws-access-key={keys[0]}", f"s3.aws-secret-key={keys[1]}"]
    return lines


def s3_keys(settings: Settings) -> tuple[str, str] | None:
    """Return the (access key, secret key) S3 clients sign with, or None for the AWS default
    credential chain (an empty HAZCHEM_S3__ACCESS_KEY; the `cluster` profile's default).

    Unset keys are the secrets `s3.access-key` and `s3.secret-key` (generated in `local`,
    required in `ci`); keys set in the environment are used as given, but outside `local` a
    secret key that shipped as a default (`hazchem-local-only`...) is refused.
    """
    from pipelines.security.secrets import KNOWN_DEFAULTS, get_secret

    s3 = settings.s3
    if s3.access_key is None:
        return get_secret(settings, "s3.access-key"), get_secret(settings, "s3.secret-key")
    if not s3.access_key:
        return None
    secret = s3.secret_key if s3.secret_key is not None else get_secret(settings, "s3.secret-key")
    if settings.profile != "local" and secret in KNOWN_DEFAULTS:
        raise UserError(
            f"HAZCHEM_S3__SECRET_KEY is a default value, refused in profile {settings.profile!r}"
        )
    return s3.access_key, secret
