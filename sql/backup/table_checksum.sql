-- A checksum of one table's rows that does not depend on their order: the sum of the first 64 bits of
-- each row's md5 (numeric, so it cannot overflow), with the row count. {table} is filled in by the caller.
SELECT count(*), coalesce(sum(('x' || left(md5(t::text), 16))::bit(64)::bigint::numeric), 0)::text
FROM {table} AS t;
