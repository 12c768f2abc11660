-- The corpus records, one a line: mal_id <TAB> the record's snapshot columns as JSON.
COPY history_corpus (mal_id, record) FROM STDIN
