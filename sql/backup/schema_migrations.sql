-- The warehouse's applied migrations (anime_dashboard.warehouse.migrations).
SELECT version FROM public.schema_migrations ORDER BY version;
