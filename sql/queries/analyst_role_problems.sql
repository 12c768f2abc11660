-- Everything the analyst role %(role)s could do beyond "log in, connect here, read analytics", one row per
-- problem (none: the role is as intended). Privileges reached through PUBLIC count too.
WITH r AS (SELECT * FROM pg_catalog.pg_roles WHERE rolname = %(role)s),
nsp AS (
    SELECT oid, nspname FROM pg_catalog.pg_namespace
    WHERE nspname NOT LIKE 'pg\_toast%%' AND nspname NOT LIKE 'pg\_temp\_%%'),
rel AS (
    SELECT c.oid, c.relkind, n.nspname, format('%%I.%%I', n.nspname, c.relname) AS name
    FROM pg_catalog.pg_class c JOIN nsp n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema'))
SELECT 'role is missing' FROM (SELECT 1) x WHERE NOT EXISTS (SELECT FROM r)
UNION ALL
SELECT 'role attribute: ' || a FROM r, LATERAL (VALUES
    (CASE WHEN r.rolsuper THEN 'SUPERUSER' END), (CASE WHEN r.rolcreatedb THEN 'CREATEDB' END),
    (CASE WHEN r.rolcreaterole THEN 'CREATEROLE' END), (CASE WHEN r.rolinherit THEN 'INHERIT' END),
    (CASE WHEN r.rolreplication THEN 'REPLICATION' END), (CASE WHEN r.rolbypassrls THEN 'BYPASSRLS' END),
    (CASE WHEN NOT r.rolcanlogin THEN 'NOLOGIN' END)) v (a)
WHERE a IS NOT NULL
UNION ALL
SELECT 'member of role ' || g.rolname
FROM r JOIN pg_catalog.pg_auth_members m ON m.member = r.oid JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
UNION ALL
SELECT 'database: ' || p || ' is ' || CASE WHEN p = 'CONNECT' THEN 'missing' ELSE 'granted' END
FROM r, unnest(ARRAY['CONNECT', 'CREATE', 'TEMPORARY']) p
WHERE has_database_privilege(r.oid, current_database(), p) <> (p = 'CONNECT')
UNION ALL
SELECT 'schema ' || quote_ident(n.nspname) || ': CREATE is granted'
FROM r, nsp n WHERE has_schema_privilege(r.oid, n.oid, 'CREATE')
UNION ALL
SELECT 'schema analytics: USAGE is missing'
FROM r, nsp n WHERE n.nspname = 'analytics' AND NOT has_schema_privilege(r.oid, n.oid, 'USAGE')
UNION ALL
SELECT rel.name || ': SELECT is missing'
FROM r, rel WHERE rel.nspname = 'analytics' AND rel.relkind <> 'S' AND NOT has_table_privilege(r.oid, rel.oid, 'SELECT')
UNION ALL
SELECT rel.name || ': ' || CASE WHEN rel.nspname = 'analytics' THEN 'a privilege beyond SELECT' ELSE 'a privilege' END
       || ' is granted'
FROM r, rel
WHERE CASE
    WHEN rel.relkind = 'S' THEN has_sequence_privilege(r.oid, rel.oid, 'USAGE, SELECT, UPDATE')
    WHEN rel.nspname = 'analytics' THEN has_any_column_privilege(r.oid, rel.oid, 'INSERT, UPDATE, REFERENCES')
        OR has_table_privilege(r.oid, rel.oid, 'DELETE, TRUNCATE, TRIGGER')
    ELSE has_any_column_privilege(r.oid, rel.oid, 'SELECT, INSERT, UPDATE, REFERENCES')
        OR has_table_privilege(r.oid, rel.oid, 'DELETE, TRUNCATE, TRIGGER')
    END
UNION ALL
SELECT format('default privilege %%s on %%s for objects of %%s in %%s', acl.privilege_type,
              CASE d.defaclobjtype WHEN 'r' THEN 'tables' WHEN 'S' THEN 'sequences' WHEN 'f' THEN 'functions'
                                   WHEN 'T' THEN 'types' ELSE 'schemas' END,
              pg_catalog.pg_get_userbyid(d.defaclrole),
              coalesce(quote_ident(n.nspname), 'every schema'))
FROM r, pg_catalog.pg_default_acl d
     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace,
     LATERAL aclexplode(d.defaclacl) acl
WHERE acl.grantee = r.oid
  AND NOT (n.nspname = 'analytics' AND d.defaclobjtype = 'r' AND acl.privilege_type = 'SELECT')
UNION ALL
SELECT 'default privilege SELECT on future tables of ' || current_user || ' in analytics is missing'
FROM r
WHERE NOT EXISTS (
    SELECT FROM pg_catalog.pg_default_acl d JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace,
                LATERAL aclexplode(d.defaclacl) acl
    WHERE n.nspname = 'analytics' AND d.defaclobjtype = 'r' AND d.defaclrole = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)
      AND acl.grantee = r.oid AND acl.privilege_type = 'SELECT');
