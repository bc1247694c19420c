"""``python -m tanjian``: the ``tanjian`` command."""

import sys

from tanjian.cli import main

sys.exit(main())
