"""Questions over the curated rules: the resolution policy (:mod:`~medspa_graph.questions.rules`),
the answers built on it (who may, what may, scope, explain), supervision chains and referral
paths as networkx graphs, the coverage matrix and the rule changes over time.

The functions take a knowledge base as an argument and import none of
:mod:`medspa_graph.knowledge`; the catalogue builds :class:`~medspa_graph.questions.rules.Rule`
records from the store, so it is the knowledge layer that depends on this one."""
