"""Everything that talks to (or stands in for) the Jikan v4 API."""
