SELECT page, body
FROM raw.jikan_pages
WHERE batch_id = %(batch_id)s
ORDER BY page;
