INSERT INTO public.schema_migrations (version, filename, checksum)
VALUES (%(version)s, %(filename)s, %(checksum)s);
