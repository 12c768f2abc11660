"""``python -m anime_dashboard.jikan.replay``: see :mod:`anime_dashboard.jikan.replay.cli`."""

from .cli import main

raise SystemExit(main())
