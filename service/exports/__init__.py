"""Felles datakatalog: the DCAT-AP-NO catalogue, CPSV-AP-NO services, and the way back.

Why a package of its own: the export is a mapping from kommunegraf's vocabulary to
two national application profiles, checked against Digdir's shapes (a local, fixed
copy in ``shapes/``), plus an import that links harvested datasets to ours. The
HTTP routes (``service.web.routes.catalog``) and the CLI (``export``, ``import-dcat``)
share everything here; nothing in it touches the event loop or a store directly
except through ``extract``.
"""
