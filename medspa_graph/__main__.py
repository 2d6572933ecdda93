"""``python -m medspa_graph`` runs the CLI."""

from medspa_graph.cli.main import main

raise SystemExit(main())
