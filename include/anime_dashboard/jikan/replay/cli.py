"""The replay's command line: serve the bundled corpus over HTTP until SIGTERM or Ctrl-C.

    python -m anime_dashboard.jikan.replay --host 127.0.0.1 --port 8765 \\
        [--rate-per-second 3 --rate-per-minute 60 --latency 0.05]
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from typing import Any

from .server import JikanReplay

logger = logging.getLogger(__package__)  # one logger for the whole replay


def _optional_int(text: str) -> int | None:
    if text.strip().lower() in {"", "none", "off", "0"}:
        return None
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m anime_dashboard.jikan.replay",
        description="Serve the bundled Jikan v4 anime corpus over HTTP, like https://api.jikan.moe/v4.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--rate-per-second", type=_optional_int, default=3, help="0/none disables the window")
    parser.add_argument("--rate-per-minute", type=_optional_int, default=60, help="0/none disables the window")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds each response is delayed")
    parser.add_argument("--corpus", default=None, help="JSON list of anime objects (default: bundled corpus)")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    stop_requested = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop_requested.set()

    # Handle both explicitly: a shell starts background jobs with SIGINT
    # ignored, and Ctrl-C should still stop the server cleanly.
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    replay = JikanReplay(
        corpus_path=args.corpus,
        host=args.host,
        port=args.port,
        rate_per_second=args.rate_per_second,
        rate_per_minute=args.rate_per_minute,
        latency=args.latency,
    )
    replay.start()
    print(f"Jikan replay serving {replay.base_url}", flush=True)
    try:
        while not stop_requested.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        logger.info("shutting down")
        replay.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
