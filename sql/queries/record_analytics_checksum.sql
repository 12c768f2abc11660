INSERT INTO public.analytics_definitions (id, checksum, files, applied_at)
VALUES (true, %(checksum)s, %(files)s, now())
ON CONFLICT (id) DO UPDATE SET checksum = EXCLUDED.checksum, files = EXCLUDED.files, applied_at = now();
