INSERT INTO raw.jikan_pages (batch_id, page, request_url, http_status, fetched_at, body)
VALUES (%(batch_id)s, %(page)s, %(request_url)s, %(http_status)s, %(fetched_at)s, %(body)s);
