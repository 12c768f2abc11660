-- core.titles and core.title_tags for these titles (NULL: all), recomputed from their snapshot rows.
SELECT core.refresh_titles(%(mal_ids)s::integer[]);
