"""The broker admits only authenticated principals over TLS, each limited to its ACLs
(docs/security.md, "Kafka principals and ACLs")."""

from __future__ import annotations

import stat
import subprocess

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from pipelines.kafka_client import client_config
from pipelines.kafka_stats import topic_record_counts

pytestmark = pytest.mark.integration


def _assert_cannot_read(settings, principal: str, topic: str) -> None:  # noqa: ANN001
    """Assert `principal` is refused the metadata of `topic`, sees none of its partitions, and
    receives none of its records in 5 s of consuming from the start."""
    consumer = Consumer(client_config(settings, principal, **{"group.id": "g", "log_level": 0}))
    try:
        meta = consumer.list_topics(topic, timeout=10)
        assert meta.topics[topic].error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
        with pytest.raises(KafkaException, match="Unknown partition"):
            consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        consumer.assign([TopicPartition(topic, 0, 0)])
        received = [m for m in consumer.consume(10, timeout=5.0) if m.error() is None]
        assert received == []
    finally:
        consumer.close()


def _produce_one(settings, principal: str, topic: str) -> KafkaError | None:  # noqa: ANN001
    """Produce one small JSON record as `principal`; return the delivery error (None: written)."""
    outcome: list[KafkaError | None] = []
    producer = Producer(client_config(settings, principal, **{"message.timeout.ms": 10000}))
    producer.produce(topic, b'{"k": 1}', key=b"k", on_delivery=lambda err, _m: outcome.append(err))
    producer.flush(15)
    assert outcome, "no delivery report"
    return outcome[0]


def test_client_without_credentials_cannot_read_readings(kafka, fresh_topics):
    """GIVEN readings holding a record written by the gateway
    WHEN a client connects without TLS and SASL, or over TLS with a wrong password
    THEN neither gets metadata, let alone a record."""
    spec = fresh_topics("readings")["readings"]
    assert _produce_one(kafka, "gateway", spec.name) is None
    plain = Consumer(
        {"bootstrap.servers": kafka.kafka.bootstrap_servers, "group.id": "x", "log_level": 0}
    )
    wrong = Consumer(
        {**client_config(kafka, "cli"), "sasl.password": "not-the-password", "group.id": "x",
         "log_level": 0}
    )  # fmt: skip
    for consumer in (plain, wrong):
        with pytest.raises(KafkaException):
            consumer.list_topics(spec.name, timeout=5)
        consumer.close()


def test_gateway_writes_readings_but_cannot_read_alarms_or_write_job_outputs(kafka, fresh_topics):
    """GIVEN readings and alarms topics with the declared ACLs, alarms holding one alarm written
    by the alarm job
    WHEN the gateway principal writes readings, writes alarms and reads alarms
    THEN the reading is written, the alarm write is refused (TOPIC_AUTHORIZATION_FAILED), the
    read is refused and alarms still holds its one record."""
    specs = fresh_topics("readings", "alarms")
    readings, alarms = specs["readings"].name, specs["alarms"].name
    assert _produce_one(kafka, "alarms-job", alarms) is None
    assert _produce_one(kafka, "gateway", readings) is None
    refused = _produce_one(kafka, "gateway", alarms)
    assert refused is not None and refused.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    _assert_cannot_read(kafka, "gateway", alarms)
    assert topic_record_counts(kafka, [readings, alarms]) == {readings: 1, alarms: 1}


def test_analyst_reads_nothing(kafka, fresh_topics):
    """GIVEN readings holding one record
    WHEN the analyst principal lists topics and reads readings
    THEN it sees no topic, and reading readings is refused (TOPIC_AUTHORIZATION_FAILED)."""
    spec = fresh_topics("readings")["readings"]
    assert _produce_one(kafka, "gateway", spec.name) is None
    consumer = Consumer(client_config(kafka, "analyst", **{"group.id": "a", "log_level": 0}))
    try:
        assert consumer.list_topics(timeout=10).topics == {}
    finally:
        consumer.close()
    _assert_cannot_read(kafka, "analyst", spec.name)


def test_broker_and_controller_listen_on_loopback_only_and_config_is_private(kafka):
    """GIVEN the broker started by the fixture
    WHEN its listening sockets and its config file are inspected
    THEN the client and controller ports listen on 127.0.0.1 only, and server.properties (which
    holds the admin password) and the keystore are readable by their owner only."""
    ports = {int(kafka.kafka.bootstrap_servers.rsplit(":", 1)[1]), kafka.kafka.controller_port}
    out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=True).stdout
    # a JVM on a dual-stack host shows IPv4 loopback as the IPv4-mapped IPv6 address
    local = [
        line.split()[3].replace("[::ffff:127.0.0.1]", "127.0.0.1") for line in out.splitlines()
    ]
    listening = {addr for addr in local if int(addr.rsplit(":", 1)[1]) in ports}
    assert listening == {f"127.0.0.1:{p}" for p in ports}
    conf_dir = kafka.kafka.data_dir.parent
    for name in ("server.properties", "kafka.keystore.pem"):
        assert stat.S_IMODE((conf_dir / name).stat().st_mode) == 0o600
