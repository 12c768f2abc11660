-- core.titles and core.title_tags after the upsert of one snapshot, from the rows it wrote (inserted or
-- updated) and the titles it removed: incremental, with core.refresh_titles for new titles and those in
-- %(removed)s (titles that lost their row, and titles whose synthetic row the upsert made real).
SELECT core.upkeep_titles(%(snapshot_type)s, %(snapshot_date)s, %(mal_ids)s::integer[],
                          %(inserted)s::boolean[], %(removed)s::integer[]);
