"""Spreadsheet and RDF sources in, validated RDF and a report out.

The package is pure: it reads files and returns graphs and reports, and never
touches the store, so the service can decide when and how a load is committed.
"""
