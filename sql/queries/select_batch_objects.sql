-- Whole Jikan objects of one batch at the given places (page, 1-based item): what rejects keep.
SELECT p.page, o.item, o.obj
FROM raw.jikan_pages p
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(p.body -> 'data') = 'array' THEN p.body -> 'data' ELSE '[]' END
) WITH ORDINALITY AS o (obj, item)
WHERE p.batch_id = %(batch_id)s
  AND (p.page, o.item) IN (SELECT * FROM unnest(%(pages)s::integer[], %(items)s::integer[]))
ORDER BY p.page, o.item;
