-- Backups of this location that it no longer holds (retention, or removed by hand).
UPDATE core.backups SET deleted_at = now()
WHERE location = %(location)s AND deleted_at IS NULL AND NOT (backup_id = ANY (%(present)s));
