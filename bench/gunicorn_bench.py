"""gunicorn settings for bench/api_load.py (passed with ``--config``); nothing else uses them.

If the benchmark found the bigint bug of incidents/cmdb.py (see benchlib.ensure_cte_runs), it sets
``MIM_BENCH_CTE_SHIM=1`` and each worker applies the same in-memory cast after loading the app, so
that POSTs with an affected CI measure the product rather than a 500. Without it: plain gunicorn.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any


def post_worker_init(worker: Any) -> None:
    if os.environ.get("MIM_BENCH_CTE_SHIM") == "1":
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import benchlib

        benchlib.apply_cte_shim()
