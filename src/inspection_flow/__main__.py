"""``python -m inspection_flow``."""

import sys

from ._cli import main

sys.exit(main())
