"""`python -m <module>`: start the service (see app.main)."""

from .app import main

raise SystemExit(main())
