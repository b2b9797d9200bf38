"""Rewrite docs/results/*/results.{md,csv,json} from their results.json (no run folders needed),
e.g. after the report format changed. Then run ``python scripts/update_readme_results.py``.
Usage: ``python scripts/rebuild_results.py [FOLDER ...]`` (default: every folder under docs/results).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from hardymer.reporting.results import rebuild_results

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("rebuild_results")


def main(argv: list[str]) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    folders = [Path(a) for a in argv] or sorted(p.parent for p in (ROOT / "docs" / "results").glob("*/results.json"))
    for folder in folders:
        log.info("rebuilt %s", rebuild_results(folder / "results.json"))


if __name__ == "__main__":
    main(sys.argv[1:])
