"""Start, stop and health-check the local engines (Kafka broker) from the project's own files."""
