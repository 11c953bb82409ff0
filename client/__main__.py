"""``python -m client``: the ``tenantcron`` command line."""

import sys

from client.cli import main

sys.exit(main())
