-- Bookkeeping of the repeatable analytics definitions (sql/analytics/*.sql): the checksum last applied.
CREATE TABLE IF NOT EXISTS public.analytics_definitions (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    checksum    text        NOT NULL,
    files       text[]      NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
