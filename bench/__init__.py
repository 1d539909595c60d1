"""The endpoint benchmark: kommunegraf's /sparql against `oxigraph serve`,
rdflib-endpoint and raw pyoxigraph, on the same synthetic data in the same run.

Run it with ``make bench`` or ``.venv/bin/python -m bench --help``; see bench/README.md.
"""
