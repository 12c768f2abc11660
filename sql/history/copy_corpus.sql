-- The corpus records, one a line: corpus order <TAB> the record's snapshot columns as JSON.
COPY history_corpus (corpus_order, record) FROM STDIN
