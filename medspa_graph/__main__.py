"""``python -m medspa_graph`` runs the CLI."""

from .cli import main

raise SystemExit(main())
