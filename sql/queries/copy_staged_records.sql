-- Valid records of one batch into staging (COPY text format, one line a record, the columns in this order):
-- the typed columns of core.anime_snapshots and where the Jikan object is in raw.jikan_pages (page, 1-based
-- item); not the object itself. staging.py writes each line in the order of this column list.
COPY core.staged_records (
    batch_id, mal_id, list_position, page, item,
    title, title_english, title_japanese, type, source, episodes, status, airing, aired_from, aired_to,
    duration, rating, score, scored_by, rank, popularity, members, favorites, season, year,
    genres, themes, demographics, studios
) FROM STDIN
