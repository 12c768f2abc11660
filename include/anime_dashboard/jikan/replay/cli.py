"""The replay's command line: serve the bundled corpus over HTTP until SIGTERM or Ctrl-C.

    python -m anime_dashboard.jikan.replay --host 127.0.0.1 --port 8765 \\
        [--rate-per-second 3 --rate-per-minute 60 --latency 0.05]
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from .server import JikanReplay

logger = logging.getLogger(__package__)  # one logger for the whole replay
STOP_SECONDS = 5


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

    # No signal handler: SIGTERM and SIGINT are blocked in every thread (the server's threads inherit the
    # mask) and the main thread takes them with sigwait, so a second signal, however close, is only one more
    # pending signal (a handler calling Event.set() could deadlock when a second signal re-entered it).
    # SIG_DFL first: a shell starts background jobs with SIGINT ignored, and an ignored signal is dropped,
    # never pending; Ctrl-C should still stop the server cleanly.
    stops = {signal.SIGTERM, signal.SIGINT}
    for sig in stops:
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    replay = JikanReplay(
        corpus_path=args.corpus,
        host=args.host,
        port=args.port,
        rate_per_second=args.rate_per_second,
        rate_per_minute=args.rate_per_minute,
        latency=args.latency,
    )
    try:
        replay.start()
        print(f"Jikan replay serving {replay.base_url}", flush=True)
        signum = signal.sigwait(stops)
        logger.info("%s: shutting down", signal.Signals(signum).name)
    finally:
        # stop in a thread, given STOP_SECONDS: whatever hangs there, the process ends (its threads are daemons)
        stopper = threading.Thread(target=replay.stop, name="jikan-replay-stop", daemon=True)
        stopper.start()
        stopper.join(STOP_SECONDS)
    return 0  # the signals stay blocked: a second one, pending, ends nothing but this process, as it exits
