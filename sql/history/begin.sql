-- History generator, first statement of its one transaction: one generator at a time, roomier sorts.
SELECT pg_advisory_xact_lock(hashtextextended('anime_dashboard.history', 0));
SET LOCAL work_mem = '128MB';
