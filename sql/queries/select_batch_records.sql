-- Every record of every page of one batch, in the order Jikan listed them: (page, 1-based item, record as
-- JSON text).
-- With %(keys)s (a text[], not NULL: the keys validation reads) each object comes without the other keys
-- found on the batch's first page (images, synopsis, trailer, ...), so most of each Jikan object never
-- travels to the client; a key only later pages have comes along, which validation ignores as it ignores
-- every key it does not read. NULL keys, or a record that is not an object: the record whole.
-- A page whose `data` is not an array has no records.
WITH unread AS (
    SELECT ARRAY(
        SELECT DISTINCT k
        FROM raw.jikan_pages p
        CROSS JOIN LATERAL jsonb_array_elements(
            CASE WHEN jsonb_typeof(p.body -> 'data') = 'array' THEN p.body -> 'data' ELSE '[]' END) AS o (obj)
        CROSS JOIN LATERAL jsonb_object_keys(
            CASE WHEN jsonb_typeof(o.obj) = 'object' THEN o.obj ELSE '{}' END) AS k
        WHERE p.batch_id = %(batch_id)s
          AND p.page = (SELECT min(page) FROM raw.jikan_pages WHERE batch_id = %(batch_id)s)
          AND k <> ALL (%(keys)s::text[])) AS keys
)
SELECT p.page, o.item,
       CASE WHEN %(keys)s::text[] IS NULL OR jsonb_typeof(o.obj) <> 'object' THEN o.obj
            ELSE o.obj - u.keys
       END::text AS record
FROM unread u
CROSS JOIN raw.jikan_pages p
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(p.body -> 'data') = 'array' THEN p.body -> 'data' ELSE '[]' END
) WITH ORDINALITY AS o (obj, item)
WHERE p.batch_id = %(batch_id)s
ORDER BY p.page, o.item;
