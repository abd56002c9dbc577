"""Exit 0 when the service answers on its readiness endpoint."""

import sys
import urllib.request

URL = sys.argv[1] if len(sys.argv) > 1 else "http://localhost:8080/health/ready"

with urllib.request.urlopen(URL, timeout=3) as response:  # noqa: S310 - fixed local URL
    sys.exit(0 if response.status == 200 else 1)
