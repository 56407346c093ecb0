"""The declarative topic list (infra/kafka/topics.yaml) and its creation on the broker."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from pipelines.settings import Settings

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True)
class TopicSpec:
    """One topic: its schema, key fields, partitions and retention/compaction."""

    name: str
    schema: str | None
    key: tuple[str, ...]
    partitions: int
    retention_ms: int
    cleanup_policy: str = "delete"
    description: str = ""
    is_dlq: bool = False
    configs: dict[str, str] = field(default_factory=dict)

    @property
    def dlq(self) -> str:
        """Name of this topic's dead-letter topic."""
        return self.name + DLQ_SUFFIX

    def kafka_configs(self) -> dict[str, str]:
        """Topic-level configs applied on creation and kept in sync by `ensure_topics`."""
        configs = {"cleanup.policy": self.cleanup_policy, "retention.ms": str(self.retention_ms)}
        configs.update(self.configs)
        return configs


@cache
def _load(path: Path) -> tuple[TopicSpec, ...]:
    doc = yaml.safe_load(path.read_text())
    defaults = doc.get("defaults", {})
    specs: list[TopicSpec] = []
    for entry in doc["topics"]:
        spec = TopicSpec(
            name=entry["name"],
            schema=entry.get("schema"),
            key=tuple(entry.get("key", [])),
            partitions=int(entry.get("partitions", defaults.get("partitions", 1))),
            retention_ms=int(entry.get("retention_ms", defaults.get("retention_ms", 604800000))),
            cleanup_policy=entry.get("cleanup_policy", "delete"),
            description=entry.get("description", ""),
        )
        specs.append(spec)
        if spec.schema:
            specs.append(
                TopicSpec(
                    name=spec.dlq,
                    schema="ingest/dead_letter",
                    key=("source_topic",),
                    partitions=1,
                    retention_ms=int(defaults.get("dlq_retention_ms", 2592000000)),
                    description=f"Dead letters of `{spec.name}`: original bytes, reason, source.",
                    is_dlq=True,
                )
            )
    return tuple(specs)


def load_topics(path: Path | None = None) -> tuple[TopicSpec, ...]:
    """Return every topic spec, each data topic followed by its dead-letter topic."""
    from pipelines.settings import get_settings

    return _load(Path(path or get_settings().kafka.topics_file))


def topic(name: str) -> TopicSpec:
    """Return the spec of one topic; KeyError names the unknown topic."""
    for spec in load_topics():
        if spec.name == name:
            return spec
    raise KeyError(f"unknown topic '{name}' (not in {Path('infra/kafka/topics.yaml')})")


def ensure_topics(settings: Settings, timeout_s: float = 30.0) -> dict[str, str]:
    """Create missing topics, align configs of existing ones and grant every principal its ACLs
    (pipelines/kafka_client.py); return {topic: action}."""
    from confluent_kafka.admin import ConfigResource, NewTopic

    from pipelines.kafka_acls import admin_client, grant_acls

    admin = admin_client(settings)
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    specs = load_topics(settings.kafka.topics_file)
    actions: dict[str, str] = {}
    new = [
        NewTopic(
            s.name, num_partitions=s.partitions, replication_factor=1, config=s.kafka_configs()
        )
        for s in specs
        if s.name not in existing
    ]
    if new:
        for name, fut in admin.create_topics(new, request_timeout=timeout_s).items():
            try:
                fut.result()
                actions[name] = "created"
            except Exception as exc:  # noqa: BLE001 - report per topic
                if "TOPIC_ALREADY_EXISTS" in str(exc):
                    actions[name] = "exists"
                else:
                    raise
    to_alter = [s for s in specs if s.name in existing]
    if to_alter:
        resources = [
            ConfigResource("topic", s.name, set_config=s.kafka_configs()) for s in to_alter
        ]
        for res, fut in admin.alter_configs(resources, request_timeout=timeout_s).items():
            fut.result()
            actions[res.name] = "config synced"
    grant_acls(settings, timeout_s=timeout_s)
    return actions
