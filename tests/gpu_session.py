"""The ``gpu`` session: claim tests and a verify run on CUDA, or a clear skip without it.

Run as a script (``tox -e gpu`` or ``python tests/gpu_session.py [PROFILE]``); nothing
else in the suite needs a GPU.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import torch


def main(argv: list[str]) -> int:
    if not torch.cuda.is_available():
        print(
            f"gpu session skipped: torch {torch.__version__} sees no CUDA device "
            "(torch.cuda.is_available() is False)"
        )
        return 0
    profile = argv[0] if argv else "ci"
    print(f"gpu session on {torch.cuda.get_device_name(0)} with torch {torch.__version__}")
    root = Path(__file__).resolve().parents[1]
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--trajcheck-device", "cuda",
         "--trajcheck-profile", profile, str(root / "tests" / "test_catalogue.py")],
        check=False,
    )  # fmt: skip
    out = root / "reports" / f"{datetime.now():%Y%m%d-%H%M%S}-{profile}-cuda"
    verify = subprocess.run(
        [sys.executable, "-m", "trajcheck", "verify", "--device", "cuda",
         "--profile", profile, "--out", str(out)],
        check=False,
    )  # fmt: skip
    return tests.returncode or verify.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
