"""The HTTP side: the FastAPI app, what routes share (dependencies, errors, content
negotiation) and one module of routes per URL family in ``routes/``."""
