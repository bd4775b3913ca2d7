"""``python -m shared.deadletters``: see :mod:`shared.deadletters.cli`."""

import sys

from shared.deadletters.cli import main

sys.exit(main())
