-- Where we are, and the analyst role as it stands: safe to (re)shape into the analyst role unless it is a
-- superuser, the role running this, or owns anything (a schema, a table, a database) anywhere.
SELECT current_database() AS database,
       to_regnamespace('analytics') IS NOT NULL AS has_analytics,
       r.oid IS NOT NULL AS role_exists,
       coalesce(r.rolsuper, false) AS rolsuper,
       coalesce(r.rolname IN (current_user, session_user), false) AS is_this_session,
       EXISTS (SELECT FROM pg_catalog.pg_shdepend d
               WHERE d.refclassid = 'pg_catalog.pg_authid'::regclass
                 AND d.refobjid = r.oid AND d.deptype = 'o') AS owns_objects
FROM (SELECT) AS here
LEFT JOIN pg_catalog.pg_roles r ON r.rolname = %(role)s;
