"""``python -m simulation.cli``: the same as the ``acosim`` script."""

import sys

from .main import main

sys.exit(main())
