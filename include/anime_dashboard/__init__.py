"""AnimeDashboard: daily Jikan snapshots of the anime market, kept in Postgres."""
