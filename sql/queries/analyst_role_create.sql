-- The analyst login role: created if missing, then every attribute and session default (re)set, so a
-- role changed by hand (or by the analyst: a role may ALTER its own password and settings) converges.
-- {role}/{role_name}: a checked identifier and its literal; {database}: the current database;
-- {password}: a SCRAM-SHA-256 verifier computed by the caller (the password never reaches the server or
-- its logs). Per-database settings of the role are reset too: they would take precedence over these.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {role_name}) THEN
        CREATE ROLE {role} LOGIN;
    END IF;
END
$$;
ALTER ROLE {role} WITH LOGIN NOCREATEDB NOCREATEROLE NOINHERIT
    CONNECTION LIMIT {connection_limit} VALID UNTIL 'infinity' PASSWORD {password};
-- Only a superuser may even name these three (docker-compose runs setup as the warehouse owner, a CREATEROLE
-- role); a new role has none of them, and analyst_role_problems refuses a role that somehow holds one.
DO $$
BEGIN
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('ALTER ROLE %I WITH NOSUPERUSER NOREPLICATION NOBYPASSRLS', {role_name});
    END IF;
END
$$;
ALTER ROLE {role} RESET ALL;
ALTER ROLE {role} IN DATABASE {database} RESET ALL;
ALTER ROLE {role} SET default_transaction_read_only = on;
ALTER ROLE {role} SET statement_timeout = {statement_timeout};
ALTER ROLE {role} SET idle_in_transaction_session_timeout = {idle_timeout};
-- No memberships: a member of pg_read_all_data or of an owner role could read or SET ROLE past the rest.
DO $$
DECLARE
    granted name;
BEGIN
    FOR granted IN
        SELECT g.rolname FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
        WHERE m.member = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = {role_name})
    LOOP
        EXECUTE format('REVOKE %I FROM %I', granted, {role_name});
    END LOOP;
END
$$;
