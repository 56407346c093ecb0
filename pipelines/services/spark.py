"""Local PySpark with the Kafka connector and Delta Lake: jars fetched with Maven, one session."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.cli_support import UserError
from pipelines.lake.storage import is_s3, spark_config
from pipelines.settings import PROJECT_ROOT, Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

POM = PROJECT_ROOT / "infra" / "spark" / "pom.xml"
S3_POM = PROJECT_ROOT / "infra" / "spark" / "s3" / "pom.xml"  # only for an s3:// lake root
_STAMP = ".pom.sha256"  # hash of the pom the cached jars were fetched for
_MVN_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def expected_jars(pom: Path = POM) -> list[str]:
    """Return the file names `mvn dependency:copy-dependencies` produces for the pom."""
    root = ET.parse(pom).getroot()
    props = {el.tag.split("}", 1)[1]: (el.text or "") for el in root.find("m:properties", _MVN_NS)}

    def resolve(text: str) -> str:
        for key, value in props.items():
            text = text.replace("${" + key + "}", value)
        return text

    names = []
    for dep in root.findall("m:dependencies/m:dependency", _MVN_NS):
        artifact = resolve(dep.findtext("m:artifactId", "", _MVN_NS))
        version = resolve(dep.findtext("m:version", "", _MVN_NS))
        names.append(f"{artifact}-{version}.jar")
    return names


def _fetch(pom: Path, target: Path, what: str) -> list[Path]:
    """Copy the jars `pom` lists into `target` with Maven (no-op when the cache matches)."""
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()
    jars = [target / name for name in expected_jars(pom)]
    stamp = target / _STAMP
    if stamp.exists() and stamp.read_text().strip() == digest and all(j.exists() for j in jars):
        return jars
    if shutil.which("mvn") is None:
        raise UserError(f"mvn not found: install Maven (apt-get install maven) to fetch {what}")
    # Start clean so an old Delta or Kafka version never sits on the classpath next to the new one.
    if target.exists():
        for old in target.glob("*.jar"):
            old.unlink()
    target.mkdir(parents=True, exist_ok=True)
    cmd = [
        "mvn", "-B", "-q", "-f", str(pom), "dependency:copy-dependencies",
        "-DincludeScope=runtime", f"-DoutputDirectory={target}",
    ]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True, text=True)
    missing = [j.name for j in jars if not j.exists()]
    if result.returncode != 0 or missing:
        tail = (result.stdout + result.stderr).strip().splitlines()[-1:] or [f"missing {missing}"]
        raise UserError(f"fetching {what} with mvn failed: {tail[0]}")
    stamp.write_text(digest + "\n")
    return jars


def fetch_jars(settings: Settings) -> list[Path]:
    """Download the Kafka connector and Delta jars (and s3a for an S3 lake); return their paths."""
    target = Path(settings.lake.spark_jars_dir)
    jars = _fetch(POM, target, "Spark jars (Kafka connector, Delta)")
    if is_s3(settings.lake.root):
        jars += _fetch(S3_POM, target / "s3", "Spark's S3 connector (hadoop-aws, AWS SDK)")
    return jars


def session_config(settings: Settings, jars: list[Path]) -> dict[str, str]:
    """Return the Spark configuration of a small local session with Delta and Kafka."""
    return {
        # 2 threads; a failed task is retried up to 4 times (plain local[2] never retries), so
        # a transient Kafka timeout on a busy shared machine does not fail the micro-batch.
        "spark.master": "local[2,4]",
        "spark.jars": ",".join(str(j) for j in jars),
        "spark.driver.memory": settings.lake.spark_driver_memory,
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.session.timeZone": "UTC",
        "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
        # 2 cores shared with Kafka, Flink and Trino: few partitions, no UI.
        "spark.sql.shuffle.partitions": "2",
        "spark.default.parallelism": "2",
        "spark.databricks.delta.snapshotPartitions": "2",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.warehouse.dir": str(settings.run_dir / "spark" / "warehouse"),
        **spark_config(settings),
    }


def spark_session(settings: Settings, app_name: str) -> SparkSession:
    """Return a local SparkSession with the Kafka source/sink, Delta Lake and UTC time zone."""
    from pyspark.sql import SparkSession

    jars = fetch_jars(settings)
    # Python workers (if any) must run the venv's interpreter, not whatever `python3` is on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # the JVM binds loopback only
    # Spark reads Kafka as the lake's principal; its Kafka clients take the password from the
    # JVM's environment (pipelines/kafka_client.py), fixed when the JVM starts here
    from pipelines.kafka_client import export_password

    export_password(settings, "lake")
    builder = SparkSession.builder.appName(app_name)
    for key, value in session_config(settings, jars).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
