-- Schemas of the warehouse:
--   raw        Jikan pages exactly as received, one batch per extract attempt
--   core       validated, typed snapshots; staging, rejects and per-run metrics
--   analytics  the views analysts and Superset read (and nothing else)
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS core;
CREATE SCHEMA IF NOT EXISTS analytics;
