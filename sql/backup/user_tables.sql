-- Every table of the database's own schemas (not the system catalogs), as schema and name: what a backup
-- counts. Partitions are counted themselves, their parents not (that would count the rows twice).
SELECT n.nspname, c.relname
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_%'
ORDER BY 1, 2;
