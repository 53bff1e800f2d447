"""Several devices: one gallery in PostgreSQL that every device syncs a local copy of, and events on MQTT."""
