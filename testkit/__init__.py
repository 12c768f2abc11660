"""What the tests and the benchmarks share: scratch warehouse databases, free ports, Redis clean-up, a throwaway
Superset and the browser driver. Test-side only: nothing under include/ imports it, and the images do not ship it."""
