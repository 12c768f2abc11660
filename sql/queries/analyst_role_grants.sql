-- What the analyst role may do in this database: connect, and SELECT what is in the analytics schema
-- (views and materialized views) now and later. Nothing else: every privilege it holds on any other
-- schema, and any default privilege naming it, is revoked first, so re-running converges.
-- Run after every rebuild of the analytics schema (dropping it drops its grants and default privileges).
GRANT CONNECT ON DATABASE {database} TO {role};
REVOKE CREATE, TEMPORARY ON DATABASE {database} FROM {role};
-- PUBLIC may create temporary tables by default; and on PostgreSQL 14 (not 15+) create in schema public.
REVOKE TEMPORARY ON DATABASE {database} FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

DO $$
DECLARE
    nsp name;
BEGIN
    FOR nsp IN
        SELECT nspname FROM pg_catalog.pg_namespace
        WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'analytics')
          AND nspname NOT LIKE 'pg\_toast%' AND nspname NOT LIKE 'pg\_temp\_%'
    LOOP
        EXECUTE format('REVOKE ALL ON SCHEMA %I FROM %I', nsp, {role_name});
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM %I', nsp, {role_name});
        EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM %I', nsp, {role_name});
        EXECUTE format('REVOKE ALL ON ALL ROUTINES IN SCHEMA %I FROM %I', nsp, {role_name});
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA %I REVOKE ALL ON TABLES FROM %I',
                       nsp, {role_name});
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA %I REVOKE ALL ON SEQUENCES FROM %I',
                       nsp, {role_name});
    END LOOP;
END
$$;
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER REVOKE ALL ON TABLES FROM {role};
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER REVOKE ALL ON SEQUENCES FROM {role};

-- analytics: USAGE, and SELECT only. "ALL TABLES" covers views and materialized views (and foreign and
-- partitioned tables); REVOKE ALL first drops anything more (INSERT on a simple view writes through it).
REVOKE ALL ON SCHEMA analytics FROM {role};
GRANT USAGE ON SCHEMA analytics TO {role};
REVOKE ALL ON ALL TABLES IN SCHEMA analytics FROM {role};
GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO {role};
REVOKE ALL ON ALL SEQUENCES IN SCHEMA analytics FROM {role};
-- views and materialized views this role creates in analytics later are readable without a new grant
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA analytics REVOKE ALL ON TABLES FROM {role};
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER IN SCHEMA analytics GRANT SELECT ON TABLES TO {role};
