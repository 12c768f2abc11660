"""Backups of the warehouse and the metadata databases: taken, kept, verified and restored.

``location`` (where they live, atomically written), ``databases`` (which ones, from the settings),
``postgres`` and ``sqlite`` (each engine's own tools), ``manifest`` (take one), ``retention`` (which to keep),
``verify`` (restore into scratch and compare), ``restore`` (put one back), ``catalog`` (the warehouse's mirror
of the location for the pipeline-health dashboard), ``commands`` (the ``anime-dashboard`` commands).
"""
