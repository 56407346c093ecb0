"""The Kafka client configs and the ACL table (pipelines/kafka_client.py)."""

from __future__ import annotations

import pytest

from pipelines.kafka_client import (
    JOB_OUTPUTS,
    client_config,
    flink_properties,
    principal_grants,
    spark_options,
)
from pipelines.security.secrets import SECRET_NAMES, get_secret
from pipelines.settings import Settings
from pipelines.topics import load_topics


@pytest.fixture
def settings(tmp_path):
    return Settings(profile="local", run_dir=tmp_path / "run", secrets_dir=tmp_path / "secrets")


def _topics(settings, principal: str, op: str) -> set[str]:
    return {
        g.name
        for g in principal_grants(settings)[principal]
        if g.resource == "topic" and g.operation == op
    }


def test_each_job_may_read_its_inputs_and_write_its_outputs_only(settings):
    """GIVEN the streaming jobs' declared input and output topics
    WHEN the ACL table is built
    THEN each job reads exactly its inputs (the alarm job also its audit chain's heads) and writes
    exactly its outputs (dead letters of its inputs included)."""
    from streaming_jobs import alarms_job, risk_job

    # ...and the alarm job reads its own alarm.audit at start (each tag's chain head)
    assert _topics(settings, "alarms-job", "READ") == {*alarms_job.INPUT_TOPICS, "alarm.audit"}
    assert _topics(settings, "alarms-job", "WRITE") == set(alarms_job.OUTPUT_TOPICS)
    assert _topics(settings, "risk-job", "READ") == set(risk_job.INPUT_TOPICS)
    assert _topics(settings, "risk-job", "WRITE") == set(risk_job.OUTPUT_TOPICS)


def test_gateway_writes_inputs_only_and_reads_nothing(settings):
    """GIVEN the declared topics
    WHEN the gateway's grants are listed
    THEN it reads nothing, writes no job output (alarms, alarm.audit, cases, risk.current...),
    and writes readings, alarm.actions and readings.dlq."""
    writes = _topics(settings, "gateway", "WRITE")
    assert _topics(settings, "gateway", "READ") == set()
    assert writes & JOB_OUTPUTS == set()
    assert {"alarms", "alarm.audit", "cases", "risk.current"} & writes == set()
    assert {"readings", "alarm.actions", "readings.dlq"} <= writes


def test_only_the_api_writes_security_audit(settings):
    """GIVEN the ACL table WHEN every principal's writes are listed THEN `security.audit` is
    written by `api` alone (a gateway, a job or the CLI cannot append to the security trail), and
    `api` reads it back (its chains' heads at start)."""
    from pipelines.kafka_client import principal_grants

    writers = {
        p for p in principal_grants(settings) if "security.audit" in _topics(settings, p, "WRITE")
    }
    assert writers == {"api"}
    assert "security.audit" in _topics(settings, "api", "READ")


def test_analyst_has_no_grant_and_every_principal_has_a_secret(settings):
    """GIVEN the ACL table WHEN it is read THEN the analyst has no grant, the lake reads every
    declared topic, and every principal's password is a named secret."""
    grants = principal_grants(settings)
    assert grants["analyst"] == []
    assert _topics(settings, "lake", "READ") == {t.name for t in load_topics()}
    assert {f"kafka.{p}" for p in ["admin", *grants]} <= set(SECRET_NAMES)


def test_jvm_configs_name_the_password_variable_instead_of_holding_the_password(settings):
    """GIVEN the alarm job's principal
    WHEN its Flink table properties and Spark options are built
    THEN they use SASL_SSL + SCRAM-SHA-512 with the (shaded) SCRAM login module and the PEM CA,
    and reference ${env:HAZCHEM_SECRET__KAFKA__ALARMS_JOB} instead of the password; the
    confluent-kafka config carries the password itself (in memory only)."""
    password = get_secret(settings, "kafka.alarms-job")
    flink = flink_properties(settings, "alarms-job")
    spark = spark_options(settings, "lake")
    assert password not in flink
    assert "'properties.security.protocol' = 'SASL_SSL'" in flink
    assert "'properties.sasl.mechanism' = 'SCRAM-SHA-512'" in flink
    assert (
        "org.apache.flink.kafka.shaded.org.apache.kafka.common.security.scram.ScramLoginModule"
        ' required username="alarms-job" password="${env:HAZCHEM_SECRET__KAFKA__ALARMS_JOB}";'
    ) in flink
    assert spark["kafka.sasl.jaas.config"] == (
        "org.apache.kafka.common.security.scram.ScramLoginModule required"
        ' username="lake" password="${env:HAZCHEM_SECRET__KAFKA__LAKE}";'
    )
    assert spark["kafka.ssl.truststore.type"] == "PEM"
    assert get_secret(settings, "kafka.lake") not in str(spark)
    config = client_config(settings, "alarms-job", **{"group.id": "g"})
    assert (config["sasl.username"], config["sasl.password"]) == ("alarms-job", password)
    assert config["security.protocol"] == "SASL_SSL" and config["group.id"] == "g"
