"""SPARQL itself: checks on query text before it runs, the canned queries in ``queries/``,
and the endpoint's service description."""
