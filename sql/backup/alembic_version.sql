-- Superset's and Airflow's metadata schema version (Alembic).
SELECT version_num FROM public.alembic_version ORDER BY 1;
