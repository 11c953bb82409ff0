"""``python -m scheduler``: the clock process."""

import sys

from scheduler.clock import main

sys.exit(main())
