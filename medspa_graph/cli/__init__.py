"""The ``medspa-graph`` command: the parser and dispatch (:mod:`~medspa_graph.cli.main`), the
question commands (:mod:`~medspa_graph.cli.commands`), the audit command
(:mod:`~medspa_graph.cli.audit`) and how answers are printed (:mod:`~medspa_graph.cli.output`).
Every subcommand is one function taking the parsed arguments and returning an exit code."""
