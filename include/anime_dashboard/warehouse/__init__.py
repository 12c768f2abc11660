"""The Postgres warehouse: migrations, raw landing, staging, upsert and run metrics."""
