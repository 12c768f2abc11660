-- Materialized views of a schema (none depends on another, so any order refreshes correctly).
SELECT matviewname, ispopulated FROM pg_matviews WHERE schemaname = %(schema)s ORDER BY matviewname;
