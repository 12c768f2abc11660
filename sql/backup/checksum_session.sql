-- The session settings a row's text depends on, fixed, so the same rows give the same checksum on any
-- server and in any session (table_checksum.sql hashes each row's text).
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, MDY';
SET IntervalStyle = 'postgres';
SET extra_float_digits = 1;
SET bytea_output = 'hex';
