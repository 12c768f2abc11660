-- Staging keeps the typed columns themselves instead of a JSON record of them.
--
-- validate wrote each valid record's typed columns as one JSONB value (record), which the server parsed into
-- a JSONB tree on COPY and the upsert took apart again with jsonb_populate_record. As typed columns, the COPY
-- is plain column input (a staged row half the size) and the upsert reads them as they are. The types are
-- core.anime_snapshots' own, so a value is converted exactly as before.
ALTER TABLE core.staged_records
    ADD COLUMN title          text,
    ADD COLUMN title_english  text,
    ADD COLUMN title_japanese text,
    ADD COLUMN type           text,
    ADD COLUMN source         text,
    ADD COLUMN episodes       integer,
    ADD COLUMN status         text,
    ADD COLUMN airing         boolean,
    ADD COLUMN aired_from     timestamptz,
    ADD COLUMN aired_to       timestamptz,
    ADD COLUMN duration       text,
    ADD COLUMN rating         text,
    ADD COLUMN score          numeric(4, 2),
    ADD COLUMN scored_by      integer,
    ADD COLUMN rank           integer,
    ADD COLUMN popularity     integer,
    ADD COLUMN members        integer,
    ADD COLUMN favorites      integer,
    ADD COLUMN season         text,
    ADD COLUMN year           integer,
    ADD COLUMN genres         text[],
    ADD COLUMN themes         text[],
    ADD COLUMN demographics   text[],
    ADD COLUMN studios        text[];

-- Batches staged before this migration (validated, perhaps not yet upserted) keep their records.
UPDATE core.staged_records st
SET (title, title_english, title_japanese, type, source, episodes, status, airing, aired_from, aired_to,
     duration, rating, score, scored_by, rank, popularity, members, favorites, season, year,
     genres, themes, demographics, studios) = (
    SELECT r.title, r.title_english, r.title_japanese, r.type, r.source, r.episodes, r.status, r.airing,
           r.aired_from, r.aired_to, r.duration, r.rating, r.score, r.scored_by, r.rank, r.popularity,
           r.members, r.favorites, r.season, r.year, r.genres, r.themes, r.demographics, r.studios
    FROM jsonb_populate_record(NULL::core.anime_snapshots, st.record) AS r);

ALTER TABLE core.staged_records DROP COLUMN record;

COMMENT ON TABLE core.staged_records IS
    'Valid, de-duplicated records of one extract batch, as the typed columns of core.anime_snapshots, and '
    'where each Jikan object is in raw.jikan_pages (page, item); rewritten by every validate of the batch.';

-- The upsert's branch for rows staged before migration 005 (their object in payload) looked at every staged
-- row of the batch to find none: this index holds only such rows, so the branch costs one empty index probe.
CREATE INDEX staged_records_legacy_payload_idx ON core.staged_records (batch_id) WHERE payload IS NOT NULL;
