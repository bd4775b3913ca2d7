"""``python -m shared.messaging.deadletters``: see :mod:`shared.messaging.deadletters.cli`."""

import sys

from shared.messaging.deadletters.cli import main

sys.exit(main())
