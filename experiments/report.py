"""Collect the figure tables of ``results/`` into ``RESULTS.md`` under a header (date, machine,
command) and the discussion kept in ``discussion.md`` (written by hand after reading the numbers)."""

from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = (
    "fig1c",
    "fig2b",
    "fig2c",
    "fig2de",
    "fig3",
    "fig4",
    "fig5",
    "fig6a",
    "fig6b",
    "fig6c",
    "fig7",
    "figS1_S2",
    "figS3_S4",
    "figS6",
    "figS7",
)


def main() -> None:
    tables = [HERE / "results" / f"{name}.md" for name in ORDER]
    found = [t for t in tables if t.exists()]
    header = [
        "# Paper vs ours — quick scale",
        "",
        f"Generated {datetime.date.today().isoformat()} on {platform.node()} ({platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}) by `experiments/run_quick.sh` "
        "(K = 3 networks per condition, 2 for Fig. 6; commands in `experiments/README.md`), then "
        "`python experiments/report.py`. Figures: `experiments/results/*.png`.",
        "",
    ]
    discussion = HERE / "discussion.md"
    body = [t.read_text() for t in found]
    text = "\n".join(header) + "\n" + "\n".join(body)
    if discussion.exists():
        text += "\n" + discussion.read_text()
    (HERE / "RESULTS.md").write_text(text)
    print(f"wrote {HERE / 'RESULTS.md'} ({len(found)} tables)")


if __name__ == "__main__":
    main()
