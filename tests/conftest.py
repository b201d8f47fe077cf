"""Every run the test suite writes is checked against the published schemas.

``TRAJCHECK_STRICT_SCHEMA`` makes trajcheck raise, rather than warn, when a results.json
or counterexample file it is about to write does not conform (``report.results``). It is
set here, before any test runs, so runs in subprocesses (the console script, worker
processes, Dask workers) inherit it too.
"""

from __future__ import annotations

import os

from trajcheck.report.results import STRICT_SCHEMA

os.environ[STRICT_SCHEMA] = "1"
