"""The benchmarks: each module measures one thing and rewrites its section of docs/benchmarks.md; run one from the
repository root as `python -m bench.<name>` (`make bench` runs them all)."""
