"""Principals and ACLs on the broker: SCRAM credentials of every principal and the ACL table of
pipelines.kafka_client, applied idempotently by `hazchem up` (docs/security.md)."""

from __future__ import annotations

from pipelines.kafka_client import (
    ADMIN,
    MECHANISM,
    Grant,
    client_config,
    principal_grants,
    principals,
    secret_name,
)
from pipelines.security.pki import ca_file
from pipelines.security.secrets import get_secret
from pipelines.settings import Settings

SCRAM_ITERATIONS = 8192


def bootstrap_admin_config(settings: Settings) -> dict:
    """Return the admin's PLAIN-over-TLS config for our own broker: it works before any SCRAM
    user exists (the broker's JAAS holds the admin's password)."""
    return {
        "bootstrap.servers": settings.kafka.bootstrap_servers,
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
        "sasl.username": ADMIN,
        "sasl.password": get_secret(settings, secret_name(ADMIN)),
        "ssl.ca.location": str(ca_file(settings)),
    }


def admin_client(settings: Settings):  # noqa: ANN201 - confluent_kafka AdminClient
    """Return an AdminClient connected as the admin (SCRAM)."""
    from confluent_kafka.admin import AdminClient

    return AdminClient(client_config(settings, ADMIN, log_level=0))


def upsert_scram_users(settings: Settings, timeout_s: float = 30.0) -> list[str]:
    """Set every principal's SCRAM-SHA-512 credential to its current secret; return them."""
    from confluent_kafka.admin import (
        AdminClient,
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialUpsertion,
    )

    config = bootstrap_admin_config(settings) if settings.kafka.manage else None
    admin = AdminClient({**(config or client_config(settings, ADMIN)), "log_level": 0})
    assert MECHANISM == "SCRAM-SHA-512"
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
    names = principals(settings)
    upserts = [
        UserScramCredentialUpsertion(name, info, get_secret(settings, secret_name(name)).encode())
        for name in names
    ]
    for fut in admin.alter_user_scram_credentials(upserts, request_timeout=timeout_s).values():
        fut.result()
    return names


def _binding(principal: str, grant: Grant, prefix: str):  # noqa: ANN202 - AclBinding
    from confluent_kafka.admin import (
        AclBinding,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    resource = ResourceType.TOPIC if grant.resource == "topic" else ResourceType.GROUP
    prefixed = grant.prefixed or (grant.resource == "group" and bool(prefix))
    return AclBinding(
        resource,
        prefix + (grant.name if not (prefix and grant.resource == "group") else ""),
        ResourcePatternType.PREFIXED if prefixed else ResourcePatternType.LITERAL,
        f"User:{principal}",
        "*",
        getattr(AclOperation, grant.operation),
        AclPermissionType.ALLOW,
    )


def acl_bindings(settings: Settings, topic_prefix: str = "") -> list:
    """Return the ALLOW bindings of the ACL table. With topic_prefix (tests, benches: topics
    named `<prefix><topic>`) each topic grant is for the prefixed topic, and each principal that
    uses a consumer group may also use any group starting with the prefix."""
    bindings = []
    for principal, grants in principal_grants(settings).items():
        seen = set()
        for grant in grants:
            candidates = [_binding(principal, grant, topic_prefix)]
            if topic_prefix and grant.resource == "group":
                candidates.append(_binding(principal, grant, ""))
            for binding in candidates:
                if binding not in seen:
                    seen.add(binding)
                    bindings.append(binding)
    return bindings


def grant_acls(settings: Settings, topic_prefix: str = "", timeout_s: float = 30.0) -> int:
    """Create the ACL table's bindings (idempotent); return how many were asked for."""
    bindings = acl_bindings(settings, topic_prefix)
    admin = admin_client(settings)
    for fut in admin.create_acls(bindings, request_timeout=timeout_s).values():
        fut.result()
    return len(bindings)


def revoke_acls(settings: Settings, topic_prefix: str, timeout_s: float = 30.0) -> None:
    """Delete the bindings `grant_acls` created for topic_prefix (a test's topics are gone)."""
    from confluent_kafka.admin import AclBindingFilter

    filters = [
        AclBindingFilter(
            b.restype,
            b.name,
            b.resource_pattern_type,
            b.principal,
            b.host,
            b.operation,
            b.permission_type,
        )  # fmt: skip
        for b in acl_bindings(settings, topic_prefix)
    ]
    admin = admin_client(settings)
    for fut in admin.delete_acls(filters, request_timeout=timeout_s).values():
        fut.result()
