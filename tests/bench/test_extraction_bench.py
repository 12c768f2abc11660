"""The extraction benchmark still runs (smoke size: one pass of the four extracts against the replay)."""
from __future__ import annotations

import re


def _row(stdout: str, metric: str) -> list[str]:
    """The cells of the table row whose first cell is ``metric``."""
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == metric:
            return cells
    raise AssertionError(f"no row {metric!r} in the printed table:\n{stdout[-3000:]}")


def test_the_extraction_benchmark_runs_the_four_extracts_against_the_rate_limited_replay(smoke_run):
    stdout = smoke_run("extraction", timeout=300)
    assert "## Extraction against Jikan's rate limit" in stdout

    # the ratio is a machine-dependent figure: present and plausible, not asserted against the goal. One
    # pass is shorter than the 60 s window, so it is a burst under the 1 s window (2 starts a second = 2.0)
    ratio = _row(stdout, "achieved requests/min ÷ 60/min (ratio)")
    assert ratio[1] == "≥ 0.95"
    assert 0.0 < float(ratio[2]) <= 2.05, ratio
    # the client's limiter ran on Redis in every task, and the 23 starts never filled its 58-a-minute window
    assert _row(stdout, "extract tasks on the in-process fall-back (Redis unusable)")[2] == "0"
    minute = [c for c in stdout.splitlines() if c.startswith("| most admitted in any 60 s of the client's")]
    assert len(minute) == 1 and int(minute[0].split("|")[2]) == 23, minute

    # every corpus title each list asks for, all within the page caps: top 15 + airing 2 + upcoming 1 + movies 5
    assert int(_row(stdout, "pages expected")[2]) == 23
    assert int(_row(stdout, "pages stored (raw.jikan_pages)")[2]) == 23
    assert _row(stdout, "pages lost")[2] == "0"
    assert _row(stdout, "max requests in flight")[2] == "1"
    assert re.search(r"^\| 429s received \(replay log\) \| — \| \d+ \|", stdout, flags=re.M)
