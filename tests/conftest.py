"""Shared fixtures: settings for the active profile and a real Kafka broker
for integration tests."""

from __future__ import annotations

import os
import uuid

import pytest

os.environ.setdefault("HAZCHEM_PROFILE", "ci")


def _running(service, settings):
    """Yield the settings with a local service up: started when it is not running, stopped
    afterwards only if it was started here (a developer's running service is left alone)."""
    was_running = service.is_healthy(settings)
    if not was_running:
        service.start(settings)
    yield settings
    if not was_running:
        service.stop(settings)


@pytest.fixture(scope="session")
def settings():
    """Settings of the test profile (`ci` unless HAZCHEM_PROFILE says otherwise), with every
    secret of SECRET_NAMES provided (what `hazchem secrets init` does before a CI run)."""
    from pipelines.security.secrets import SECRET_NAMES, init_secrets
    from pipelines.settings import get_settings

    settings = get_settings()
    init_secrets(settings, list(SECRET_NAMES))
    return settings


@pytest.fixture(scope="session")
def kafka(settings):
    """A running broker: started for the session when not already up,
    stopped only if we started it (the `settings` fixture provides its principals' secrets)."""
    from pipelines.services import kafka as kafka_service

    yield from _running(kafka_service, settings)


@pytest.fixture(scope="session")
def trino(settings):
    """A running Trino coordinator: started for the session when not up, stopped only if we
    started it."""
    from pipelines.services import trino as trino_service

    yield from _running(trino_service, settings)


@pytest.fixture(scope="session")
def s3(settings):
    """The local S3-compatible server (gofakes3): started for the session when not up, stopped
    only if we started it."""
    from pipelines.services import s3 as s3_service

    yield from _running(s3_service, settings)


@pytest.fixture(scope="session")
def postgres(secrets):
    """The local PostgreSQL server (Debian's package): started for the session when not up,
    stopped only if we started it."""
    from pipelines.services import postgres as postgres_service

    yield from _running(postgres_service, secrets)


@pytest.fixture(scope="session")
def secrets(settings):
    """The profile's settings with its secrets (the `settings` fixture generates them)."""
    return settings


@pytest.fixture(scope="session")
def token_service():
    """A TokenService with a fresh Ed25519 key (tests mint tokens for any principal)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from pipelines.security.tokens import TokenService

    return TokenService(Ed25519PrivateKey.generate())


@pytest.fixture(scope="session")
def bearer(token_service):
    """Return Authorization headers of an access token for (principal, *roles, topics=)."""

    def make(principal: str, *roles: str, topics: list[str] | None = None) -> dict:
        token, _ = token_service.issue(principal, list(roles), topics)
        return {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture
def make_api(fresh_topics, token_service):
    """Build the HTTP API on a test producer: its topics named `<prefix><declared name>`, the
    test token service, and a fresh security.audit topic (returned with the app)."""
    from pipelines.ingest_api import create_app
    from pipelines.security.audit import AuditLog

    def make(settings, producer, prefix: str = "", identity=None):  # noqa: ANN001, ANN202
        spec = fresh_topics("security.audit")["security.audit"]
        producer.validator.topics[spec.name] = spec
        audit = AuditLog(producer, spec.name)
        app = create_app(settings, producer=producer, topic_prefix=prefix, tokens=token_service,
                         identity=identity, audit=audit)  # fmt: skip
        return app, spec

    return make


def prefix_of(spec) -> str:  # noqa: ANN001 - a TopicSpec made by fresh_topics
    """Return the test prefix of a fresh topic (`t1a2b3c4d.`)."""
    return spec.name.split(".", 1)[0] + "."


@pytest.fixture
def http_producer(tmp_path):
    """Build the producer the HTTP endpoint uses (source `http`, its delivery timeout) on given
    topics, with a validator that knows only `tags` and a ledger under tmp_path."""
    from pipelines.ingest import IngestProducer, RecordValidator

    def make(settings, specs: list, tags: set[str]) -> IngestProducer:
        validator = RecordValidator(settings.ingest, known_tags=tags, topics=specs)
        return IngestProducer(
            settings,
            source="http",
            principal="api",  # the API's own Kafka principal
            validator=validator,
            ledger_dir=tmp_path,
            delivery_timeout_s=settings.ingest.http_delivery_timeout_s,
        )

    return make


def _wait_for_leaders(admin, names: list[str], timeout_s: float = 30.0) -> None:
    """Block until every partition of the new topics has a leader (creation is asynchronous)."""
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        meta = admin.list_topics(timeout=10).topics
        if all(
            n in meta
            and meta[n].partitions
            and all(p.leader >= 0 for p in meta[n].partitions.values())
            for n in names
        ):
            return
        time.sleep(0.1)
    raise TimeoutError(f"topics without a leader after {timeout_s} s: {names}")


@pytest.fixture
def fresh_topics(kafka):
    """Create uniquely named copies of declared topics for one test, with the ACLs of the
    declared ones (and consumer groups named `<prefix>...`); deleted afterwards."""
    from confluent_kafka.admin import NewTopic

    from pipelines.kafka_acls import admin_client, grant_acls, revoke_acls
    from pipelines.topics import TopicSpec, load_topics

    admin = admin_client(kafka)
    created: list[str] = []
    prefixes: list[str] = []

    def make(*names: str, partitions: int | None = None) -> dict[str, TopicSpec]:
        prefix = f"t{uuid.uuid4().hex[:8]}."
        grant_acls(kafka, topic_prefix=prefix)
        prefixes.append(prefix)
        specs: dict[str, TopicSpec] = {}
        declared = {t.name: t for t in load_topics()}
        new_topics = []
        for name in names:
            base = declared[name]
            spec = TopicSpec(
                name=prefix + name,
                schema=base.schema,
                key=base.key,
                partitions=partitions or base.partitions,
                retention_ms=base.retention_ms,
                cleanup_policy=base.cleanup_policy,
            )
            specs[name] = spec
            for topic_name in (spec.name, spec.dlq):
                new_topics.append(
                    NewTopic(topic_name, num_partitions=spec.partitions, replication_factor=1)
                )
                created.append(topic_name)
        for fut in admin.create_topics(new_topics).values():
            fut.result()
        _wait_for_leaders(admin, [t.topic for t in new_topics])
        return specs

    yield make
    for prefix in prefixes:
        revoke_acls(kafka, prefix)
    if created:
        for fut in admin.delete_topics(created).values():
            try:
                fut.result()
            except Exception:  # noqa: BLE001 - best-effort cleanup
                pass
