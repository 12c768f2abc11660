-- Work tables of one generator run (temporary, gone at commit), filled by COPY from the generator's plan.
--   history_corpus   the corpus records (typed snapshot columns as JSON): attributes of variants and of titles
--                    of a list built from the corpus
--   history_refs     every generated title per anchor date: its values that day (where its drift starts), the
--                    slopes of rank by score and popularity by log members near it, where its attributes come
--                    from (statics_type: its row in that anchor snapshot; NULL: the corpus)
--   history_members  which titles are in which list on which days: t_from .. t_to days before the anchor
--                    (t_to NULL: every older day), tie_order breaking ties in the list order
--   history_targets  the synthetic snapshots to write: (type, date), its anchor, t = days before it, the
--                    anchor's list definition and the list size
--   history_daily    the generated titles' values on the days of one chunk
CREATE TEMP TABLE history_corpus (
    mal_id  integer PRIMARY KEY,
    record  jsonb   NOT NULL
) ON COMMIT DROP;

CREATE TEMP TABLE history_refs (
    anchor_date       date    NOT NULL,
    mal_id            integer NOT NULL,
    base_mal_id       integer NOT NULL,
    variant           integer NOT NULL,
    statics_type      text,
    score             numeric(4, 2),
    scored_by         integer,
    members           integer,
    favorites         integer,
    rank              integer,
    popularity        integer,
    rank_slope        double precision NOT NULL,
    popularity_slope  double precision NOT NULL,
    PRIMARY KEY (anchor_date, mal_id)
) ON COMMIT DROP;

CREATE TEMP TABLE history_members (
    snapshot_type  text    NOT NULL,
    anchor_date    date    NOT NULL,
    mal_id         integer NOT NULL,
    t_from         integer NOT NULL,
    t_to           integer,
    tie_order      integer NOT NULL,
    PRIMARY KEY (snapshot_type, anchor_date, mal_id)
) ON COMMIT DROP;

CREATE TEMP TABLE history_targets (
    snapshot_type  text    NOT NULL,
    snapshot_date  date    NOT NULL,
    anchor_date    date    NOT NULL,
    t              integer NOT NULL,
    definition_id  integer NOT NULL,
    list_size      integer NOT NULL,
    PRIMARY KEY (snapshot_type, snapshot_date)
) ON COMMIT DROP;

CREATE TEMP TABLE history_daily (
    anchor_date    date    NOT NULL,
    snapshot_date  date    NOT NULL,
    mal_id         integer NOT NULL,
    score          numeric(4, 2),
    scored_by      integer,
    members        integer,
    favorites      integer,
    rank           integer,
    popularity     integer,
    PRIMARY KEY (anchor_date, snapshot_date, mal_id)
) ON COMMIT DROP;
