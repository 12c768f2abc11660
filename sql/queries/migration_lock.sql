-- Serialises concurrent migration runs until the transaction ends (the key is any constant).
SELECT pg_advisory_xact_lock(7428311);
