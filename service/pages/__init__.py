"""What people read: Jinja2 templates and static files, resource pages, charts, the guides
and the ontology's documentation."""
