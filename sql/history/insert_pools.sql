-- Candidate pools: (snapshot type, corpus title, number of variants of it in that type's pool).
INSERT INTO history_pools (snapshot_type, base_mal_id, variants)
SELECT * FROM unnest(%(snapshot_types)s::text[], %(base_mal_ids)s::integer[], %(variants)s::integer[]);
