"""``python -m trajcheck``: the same as the ``trajcheck`` console script."""

import sys

from trajcheck.cli import main

sys.exit(main())
