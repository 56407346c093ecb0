"""The one settings module: profile (`local` default, `ci`, `cluster`)
plus `HAZCHEM_<AREA>__<KEY>` overrides."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]

Profile = Literal["local", "ci", "cluster"]


class KafkaSettings(BaseModel):
    """Kafka broker started by `hazchem up` (single-node KRaft) or an external cluster."""

    bootstrap_servers: str = "127.0.0.1:19092"
    controller_port: int = 19093
    data_dir: Path = PROJECT_ROOT / ".cache" / "run" / "kafka" / "data"
    heap: str = "768m"  # 2-core/24 GB machine shared with Flink, Spark and Trino
    manage: bool = True  # False in `cluster`: the broker is not ours to start or stop
    topics_file: Path = PROJECT_ROOT / "infra" / "kafka" / "topics.yaml"
    version: str = "4.1.1"


class IngestSettings(BaseModel):
    """Validation rules applied by every producer before a record reaches a topic."""

    max_future_skew_s: int = 300  # GB guideline: clocks are synchronised; > 5 min ahead is rejected
    max_age_s: int = 7 * 24 * 3600  # older than the topic retention (7 days) is rejected
    max_record_bytes: int = 64 * 1024
    # objects/arrays nested deeper than this (the record itself is level 1) -> too_deep; the
    # declared schemas nest 4 levels at most, and JSON parsers recurse once per level
    max_json_depth: int = 32
    dedupe_window: int = 200_000  # (tag, event time) keys remembered to reject duplicates
    http_host: str = "127.0.0.1"
    http_port: int = 8088
    max_batch_records: int = 5000
    max_batch_bytes: int = 16 * 1024 * 1024  # larger HTTP bodies -> 413, refused unread
    # how long Kafka may take to confirm an HTTP batch; unconfirmed records -> 503 (answered
    # within this + 1.5 s)
    http_delivery_timeout_s: float = 2.5


class FlinkSettings(BaseModel):
    """PyFlink local mini-cluster used by `hazchem jobs run`."""

    jars_dir: Path = PROJECT_ROOT / ".cache" / "jars" / "flink"
    kafka_connector_version: str = "5.0.0-2.2"
    parallelism: int = 1
    checkpoint_dir: Path = PROJECT_ROOT / ".cache" / "run" / "flink" / "checkpoints"
    checkpoint_interval_ms: int = 5000
    # The alarm job evaluates each tag's readings in arrival order, without waiting for a
    # watermark; its timers (STALE, shelve expiry) run on a clock this far behind the newest
    # reading, so a tag slightly behind the others is not declared STALE early.
    clock_lag_ms: int = 2000
    # ...and on the slowest Kafka partition of readings that sent something within this much wall
    # time (an idle partition stops holding the clock back)
    partition_idle_ms: int = 10_000
    source_idle_timeout_ms: int = 2000  # sparse inputs of the risk job (actions, cases)
    consumer_group: str = "hazchem-alarms"
    # readings reach Python in processing-time batches this long (per key bucket): the most a
    # reading waits in the JVM before it is evaluated
    batch_window_ms: int = 100
    # tags are spread over this many keys: Python runs once per key and window, not per tag.
    # 0 = one per parallel instance (fewest calls; on this machine 1 bucket evaluates 88k/s,
    # 2 buckets 82k/s, 4 buckets 76k/s). Set it >= parallelism on a cluster.
    key_buckets: int = 0
    rest_port: int = 18081  # the local mini-cluster's REST API: job state for `hazchem demo`/status
    # how long a network buffer between operators may wait before it is sent (Flink's default is
    # 100 ms per exchange; the alarm job has several exchanges on its latency path)
    buffer_timeout_ms: int = 5
    # where the jobs' Python functions run: `thread` inside the JVM (PEMJA), or `process` in
    # Python workers fed by Apache Beam's gRPC servers, which bind every network interface with
    # no setting (docs/security.md); `thread` keeps every listener on loopback
    python_execution_mode: Literal["thread", "process"] = "thread"


class NotifierSettings(BaseModel):
    """Webhook sink of notifications (`hazchem alarms notify`), see docs/alarms.md.

    A failing webhook is retried with exponential backoff (first_backoff_s, doubling, at most
    max_backoff_s) while it has been failing for less than retry_for_s without a success; the
    notification is then dead-lettered, and so is each next one after a single failed attempt,
    until a delivery succeeds. Later notifications wait in Kafka meanwhile (nothing committed).
    """

    first_backoff_s: float = Field(0.5, gt=0)
    max_backoff_s: float = Field(30.0, gt=0)
    # a webhook down for less than this loses nothing: every notification waits and goes out
    retry_for_s: float = Field(1800.0, ge=0)
    max_attempts: int = Field(0, ge=0)  # per notification; 0: no cap, retry_for_s decides
    timeout_s: float = Field(5.0, gt=0)  # per HTTP request
    # a dead-letter write Kafka has not confirmed within this stops the notifier, uncommitted
    dlq_timeout_s: float = Field(30.0, gt=0)
    webhook_token: str | None = None  # sent as `Authorization: Bearer …` when set


class SimulatorSettings(BaseModel):
    """Defaults of the plant simulator (`hazchem simulate`)."""

    plant_file: Path | None = None  # None: the shipped demo plant
    seed: int = 42
    rate: float = 1000.0  # sensor readings per second across all tags


class LakeSettings(BaseModel):
    """The lakehouse: Delta tables under one root (a local folder, or an S3 URI in `cluster`)."""

    root: str = str(PROJECT_ROOT / ".cache" / "lake")
    checkpoint_root: str = str(PROJECT_ROOT / ".cache" / "run" / "spark-checkpoints")
    spark_jars_dir: Path = PROJECT_ROOT / ".cache" / "jars" / "spark"
    spark_driver_memory: str = "1g"
    duckdb_path: Path = PROJECT_ROOT / ".cache" / "lake" / "hazchem.duckdb"


class RiskSettings(BaseModel):
    """The four-color risk model and its streaming job (`hazchem jobs run risk`)."""

    model_file: Path | None = None  # None: the shipped pipelines/data/risk_model.yaml
    consumer_group: str = "hazchem-risk"
    # Business inputs are applied as they arrive; readings move the risk clock (time-based changes
    # without input) this much behind their event time, so that alarm events (emitted by the alarm
    # job after their readings) still find the clock before them.
    clock_lag_ms: int = 2000
    rest_port: int = 18082  # REST API of the risk job's own local mini-cluster


class S3Settings(BaseModel):
    """S3-compatible object storage, used when the lake root is an `s3://bucket/prefix` URI.

    `local` and `ci` point at the S3-compatible server `hazchem up --with s3` runs on this machine
    (gofakes3, a stand-in for development and tests); `cluster` uses AWS S3 (or the `endpoint`
    given) with credentials from the keys below or, when they are empty, the AWS default chain.
    Unset keys are the secrets `s3.access-key`/`s3.secret-key` (pipelines.lake.storage.s3_keys).
    """

    endpoint: str | None = "http://127.0.0.1:19000"
    region: str = "us-east-1"
    access_key: str | None = None
    secret_key: str | None = None
    path_style: bool = True  # bucket in the path (S3-compatible servers), not in the host name
    # the local server: github.com/johannesboyne/gofakes3 built with `go install`, bolt backend
    server_module: str = "github.com/johannesboyne/gofakes3/cmd/gofakes3"
    server_version: str = "v1.2.0"
    server_data_dir: Path = PROJECT_ROOT / ".cache" / "run" / "s3"
    # gofakes3's backend. `memory` keeps objects until the server stops. `bolt` persists them,
    # but v1.2.0 can crash with a segfault in CopyObject (it reads a bolt page after its
    # transaction; seen when the file grows during an S3A rename), which hangs every S3 client.
    server_backend: str = "memory"


class AirflowSettings(BaseModel):
    """Local Airflow (`hazchem airflow`): SQLite by default, PostgreSQL with `--postgres`."""

    # `--postgres` uses this database; unset: the local server `hazchem airflow --postgres`
    # starts from Debian's postgresql package (pipelines/services/postgres.py)
    postgres_url: str | None = None
    pg_bin_dir: Path | None = None  # None: the newest /usr/lib/postgresql/<N>/bin
    pg_data_dir: Path = PROJECT_ROOT / ".cache" / "run" / "postgres"
    pg_port: int = 15432
    pg_user: str = "airflow"  # its password is the secret `postgres.airflow`
    pg_database: str = "airflow"


class TrinoSettings(BaseModel):
    """Trino coordinator (single node) serving the lake's Delta tables."""

    version: str = "476"
    host: str = "127.0.0.1"
    port: int = 18080
    java_home: Path = Path("/usr/lib/jvm/temurin-25-jdk-amd64")
    heap: str = "2g"
    # per query and node; + 512MB headroom must fit in the heap (`make bench` uses 4g / 2560MB
    # so dbt's full build of a simulated week fits)
    query_memory: str = "512MB"
    home: Path = PROJECT_ROOT / ".cache" / "trino"
    catalog: str = "lake"
    # who the platform's own clients (lake registration, publish, quality, dbt) log in as; the
    # password is the secret `trino.<user>` (users: lake_writer, analyst, admin; docs/security.md)
    user: str = "lake_writer"


class SecuritySettings(BaseModel):
    """TLS material, see pipelines/security/pki.py and docs/security.md."""

    # None: a local CA generated under the run folder (`local`, `ci`); `cluster` must set both
    ca_file: Path | None = None
    certs_dir: Path | None = None


class AuthSettings(BaseModel):
    """Identities, tokens and the API's TLS (see pipelines/security/ and docs/security.md)."""

    access_token_s: int = Field(300, gt=0)  # access JWT lifetime
    refresh_token_s: int = Field(12 * 3600, gt=0)  # one shift; rotated on every refresh
    max_failed_logins: int = Field(5, gt=0)  # consecutive failures before the lockout
    lockout_s: int = Field(900, gt=0)  # how long a locked principal is refused
    # the identity store: database and role on the local PostgreSQL server (pipelines/services/
    # postgres.py); its password is the secret `postgres.identity`
    database: str = "hazchem"
    db_user: str = "identity"
    tls: bool = True  # `hazchem ingest serve` over HTTPS with server_cert(settings, "api")
    # `cluster` only: also accept tokens of an external OIDC provider
    oidc_jwks_url: str | None = None
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_role_claim: str = "roles"  # dotted path of the roles list in its tokens


class Settings(BaseSettings):
    """Resolved settings; read them through `get_settings()`."""

    model_config = SettingsConfigDict(
        env_prefix="HAZCHEM_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    profile: Profile = "local"
    run_dir: Path = PROJECT_ROOT / ".cache" / "run"
    cache_dir: Path = PROJECT_ROOT / ".cache"
    # None: .cache/secrets/<profile>; see pipelines/security/secrets.py
    secrets_dir: Path | None = None
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    flink: FlinkSettings = Field(default_factory=FlinkSettings)
    simulator: SimulatorSettings = Field(default_factory=SimulatorSettings)
    lake: LakeSettings = Field(default_factory=LakeSettings)
    trino: TrinoSettings = Field(default_factory=TrinoSettings)
    s3: S3Settings = Field(default_factory=S3Settings)
    airflow: AirflowSettings = Field(default_factory=AirflowSettings)
    risk: RiskSettings = Field(default_factory=RiskSettings)
    notifier: NotifierSettings = Field(default_factory=NotifierSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)

    def model_post_init(self, __context: object) -> None:
        """Apply profile defaults that the environment did not set explicitly."""
        if self.profile == "ci":
            # CI runs its own broker on other ports so a developer's local broker is never touched.
            if "bootstrap_servers" not in self.kafka.model_fields_set:
                self.kafka.bootstrap_servers = "127.0.0.1:29092"
            if "controller_port" not in self.kafka.model_fields_set:
                self.kafka.controller_port = 29093
            if "data_dir" not in self.kafka.model_fields_set:
                self.kafka.data_dir = self.run_dir / "kafka-ci" / "data"
            if "endpoint" not in self.s3.model_fields_set:
                self.s3.endpoint = "http://127.0.0.1:29000"
            if "server_data_dir" not in self.s3.model_fields_set:
                self.s3.server_data_dir = self.run_dir / "s3-ci"
            if "pg_port" not in self.airflow.model_fields_set:
                self.airflow.pg_port = 25432
            if "pg_data_dir" not in self.airflow.model_fields_set:
                self.airflow.pg_data_dir = self.run_dir / "postgres-ci"
        elif self.profile == "cluster":
            if "manage" not in self.kafka.model_fields_set:
                self.kafka.manage = False
            # AWS S3 and the default credential chain unless the environment says otherwise
            for key in ("endpoint", "access_key"):
                if key not in self.s3.model_fields_set:
                    setattr(self.s3, key, None if key == "endpoint" else "")
            if "path_style" not in self.s3.model_fields_set:
                self.s3.path_style = False


@cache
def get_settings() -> Settings:
    """Return the process-wide settings (environment read once)."""
    return Settings()
