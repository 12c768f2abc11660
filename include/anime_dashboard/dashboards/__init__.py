"""Superset: the dashboards-as-code bundle, the REST client, the server's bootstrap and the cache refresh.

Runs in the project's own environment; Superset itself runs in its own (``.venv-superset``), reached
through its CLI (bootstrap) and its REST API (import, cache refresh, tests).
"""
