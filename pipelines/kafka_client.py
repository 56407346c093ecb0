"""The one place that says how a Kafka client authenticates, and what each principal may do.

Every client connects over SASL_SSL with SCRAM-SHA-512 as its own principal (docs/security.md,
"Kafka principals and ACLs"); its password is the secret `kafka.<principal>`. Three shapes of the
same settings are built here: a confluent-kafka dict (`client_config`), the `properties.*` of a
Flink SQL Kafka table (`flink_properties`) and the `kafka.*` options of Spark's Kafka source
(`spark_options`). The JVM shapes never hold the password: they name the environment variable
holding it (`${env:...}`, Kafka's EnvVarConfigProvider), which `export_password` sets in this
process before the JVM starts, so DDL that Flink prints or an option Spark logs shows no secret.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from pipelines.security.pki import ca_file
from pipelines.security.secrets import env_name, get_secret
from pipelines.settings import Settings
from pipelines.topics import DLQ_SUFFIX, load_topics

MECHANISM = "SCRAM-SHA-512"
ADMIN = "admin"

# -- what each principal reads and writes ------------------------------------------------------

# topics written by the streaming jobs (never by a gateway)
ALARMS_JOB_READS = ("readings", "alarm.actions", "unit.states")
ALARMS_JOB_WRITES = (
    "alarms", "alarms.current", "alarm.notifications", "alarm.audit", "alarm.kpis",
    "readings.late",
)  # fmt: skip
RISK_JOB_READS = (
    "alarms", "video.events", "work.permits", "positions", "hidden_dangers", "inspections",
    "case.actions", "readings",
)  # fmt: skip
RISK_JOB_WRITES = ("risk.levels", "risk.current", "cases", "cases.current", "case.notifications")
NOTIFIER_READS = ("alarm.notifications", "case.notifications")
# the HTTP API's own audit trail: only the API writes it
AUDIT_TOPICS = ("security.audit",)
# what the HTTP API reads: state it serves (current risk, cases), its audit chain's last hashes
# and the last 24 h of alarm actions (the shelving limit) at start
API_READS = ("risk.current", "cases", "cases.current", "alarm.actions", *AUDIT_TOPICS)
JOB_OUTPUTS = frozenset(ALARMS_JOB_WRITES + RISK_JOB_WRITES)
# consumer-group prefix per principal; a job run with `--group` must keep the prefix
# (prefixed test runs get their own prefix, see `grant_acls`)
READER_GROUP = "hazchem-reader-"


@dataclass(frozen=True)
class Grant:
    """One allowed operation of a principal on a topic or consumer group (name or prefix)."""

    resource: str  # "topic" | "group"
    name: str
    operation: str  # "READ" | "WRITE" | "DESCRIBE"
    prefixed: bool = False


def _topics(names: tuple[str, ...] | list[str], op: str) -> list[Grant]:
    return [Grant("topic", n, op) for n in names]


def gateway_topics(settings: Settings) -> list[str]:
    """Return the input topics (every declared data topic that no job writes)."""
    specs = load_topics(settings.kafka.topics_file)
    return [
        s.name for s in specs
        if not s.is_dlq and s.name not in JOB_OUTPUTS and s.name not in AUDIT_TOPICS
    ]  # fmt: skip


def principal_grants(settings: Settings) -> dict[str, list[Grant]]:
    """Return the ACL table: principal -> its grants (admin is a super user, analyst has none)."""
    all_topics = [s.name for s in load_topics(settings.kafka.topics_file)]
    inputs = gateway_topics(settings)

    def dlq(names) -> list[str]:  # noqa: ANN001
        return [n + DLQ_SUFFIX for n in names]

    return {
        # the HTTP ingest API's producer, the simulator and `hazchem alarms act`: inputs only
        "gateway": _topics(inputs + dlq(inputs), "WRITE"),
        # the HTTP API: what gateways may send through it, its audit trail, the state it serves
        "api": _topics(API_READS, "READ")
        + _topics(inputs + dlq(inputs) + list(AUDIT_TOPICS), "WRITE")
        + [Grant("group", READER_GROUP, "READ", True)],
        # ...and its own alarm.audit, where a restart without state finds each chain's head
        "alarms-job": _topics((*ALARMS_JOB_READS, "alarm.audit"), "READ")
        + _topics(ALARMS_JOB_WRITES + tuple(dlq(ALARMS_JOB_READS)), "WRITE")
        + [Grant("group", settings.flink.consumer_group, "READ", True)],
        "risk-job": _topics(RISK_JOB_READS, "READ")
        + _topics(RISK_JOB_WRITES + tuple(dlq(RISK_JOB_READS)), "WRITE")
        + [Grant("group", settings.risk.consumer_group, "READ", True)],
        "notifier": _topics(NOTIFIER_READS + tuple(dlq(NOTIFIER_READS)), "READ")
        + _topics(dlq(NOTIFIER_READS), "WRITE")
        + [Grant("group", "hazchem-notifier", "READ", True)],
        "lake": _topics(all_topics, "READ")
        + [
            Grant("group", "hazchem-bronze", "READ", True),
            Grant("group", READER_GROUP, "READ", True),
        ],
        # `hazchem status`, the demo's summary, benches: read every topic, see job groups' lag
        "cli": _topics(all_topics, "READ")
        + [
            Grant("group", READER_GROUP, "READ", True),
            Grant("group", "hazchem-", "DESCRIBE", True),
        ],
        "analyst": [],
    }


def group_allowed(settings: Settings, principal: str, group: str, topic_prefix: str = "") -> bool:
    """True when the ACL table lets `principal` use consumer group `group` (its group grants;
    in a prefixed run also any group starting with the topic prefix, as `grant_acls` binds)."""
    grants = [g for g in principal_grants(settings).get(principal, []) if g.resource == "group"]
    if topic_prefix and grants and group.startswith(topic_prefix):
        return True
    return any(group.startswith(g.name) if g.prefixed else group == g.name for g in grants)


def principals(settings: Settings) -> list[str]:
    """Return every principal, admin first."""
    return [ADMIN, *principal_grants(settings)]


def secret_name(principal: str) -> str:
    """Return the name of the secret holding `principal`'s Kafka password."""
    return f"kafka.{principal}"


# -- client configurations --------------------------------------------------------------------


def client_config(settings: Settings, principal: str, **extra: object) -> dict:
    """Return a confluent-kafka (librdkafka) config connecting as `principal`, plus `extra`."""
    return {
        "bootstrap.servers": settings.kafka.bootstrap_servers,
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": MECHANISM,
        "sasl.username": principal,
        "sasl.password": get_secret(settings, secret_name(principal)),
        "ssl.ca.location": str(ca_file(settings)),
        **extra,
    }


def export_password(settings: Settings, principal: str) -> str:
    """Put `principal`'s password in this process's environment (for a JVM started after);
    return the variable's name."""
    name = env_name(secret_name(principal))
    os.environ[name] = get_secret(settings, secret_name(principal))
    return name


def jvm_properties(settings: Settings, principal: str, shaded: str = "") -> dict[str, str]:
    """Return Java Kafka client properties connecting as `principal`; the password is read from
    the environment by the client (call `export_password` before the JVM starts).

    shaded: package prefix of a connector that relocates the Kafka client (Flink's SQL jar).
    """
    variable = env_name(secret_name(principal))
    module = f"{shaded}org.apache.kafka.common.security.scram.ScramLoginModule"
    return {
        "bootstrap.servers": settings.kafka.bootstrap_servers,
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": MECHANISM,
        "sasl.jaas.config": (
            f'{module} required username="{principal}" password="${{env:{variable}}}";'
        ),
        "config.providers": "env",
        "config.providers.env.class": (
            f"{shaded}org.apache.kafka.common.config.provider.EnvVarConfigProvider"
        ),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(ca_file(settings)),
    }


FLINK_SHADED = "org.apache.flink.kafka.shaded."


def flink_properties(settings: Settings, principal: str) -> str:
    """Return the `'properties.*' = '...'` options of a Flink SQL Kafka table for `principal`
    (comma-separated, no secret in them)."""
    props = jvm_properties(settings, principal, shaded=FLINK_SHADED)
    return ", ".join(f"'properties.{k}' = '{v}'" for k, v in props.items())


def spark_options(settings: Settings, principal: str) -> dict[str, str]:
    """Return the `kafka.*` options of Spark's Kafka source for `principal` (no secret)."""
    return {f"kafka.{k}": v for k, v in jvm_properties(settings, principal).items()}
