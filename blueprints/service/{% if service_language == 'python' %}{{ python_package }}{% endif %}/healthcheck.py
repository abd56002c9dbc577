"""Container HEALTHCHECK: exit 0 when /health/live answers 200 on this container's PORT, else 1.

Written in Python because the runtime image has no curl or wget.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

from .app import DEFAULT_PORT


def main() -> int:
    port = os.environ.get("PORT", str(DEFAULT_PORT))
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=3) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"healthcheck: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
