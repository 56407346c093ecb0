"""Identity, roles, secrets, the local CA and tamper-evident audit chains (等保 2.0 三级)."""
