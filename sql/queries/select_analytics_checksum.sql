SELECT checksum FROM public.analytics_definitions;
