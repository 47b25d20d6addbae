"""The generated corpus of malformed inputs (issue 18 item 6): every case module, registered.

See `fuzz_case_base.py` for what a case is; the cases live in one module per CLI family. The
import order is fixed, so `CASES` has the same order on every run.
"""

import fuzz_cases_cli  # noqa: F401 (registers its cases)
import fuzz_cases_files  # noqa: F401 (registers its cases)
import fuzz_cases_seg  # noqa: F401 (registers its cases)
from fuzz_case_base import CASES, Case

__all__ = ["CASES", "Case"]
