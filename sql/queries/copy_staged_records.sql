-- Valid records of one batch into staging (COPY text format, one line a record): the typed columns as JSON
-- (record) and where the Jikan object is in raw.jikan_pages (page, 1-based item); not the object itself.
COPY core.staged_records (batch_id, mal_id, list_position, page, item, record) FROM STDIN
