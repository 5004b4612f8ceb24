"""Open311 GeoReport v2 at /open311/v2/ for the organisations' own systems (docs/open311.md).

A small FastAPI application of its own (``create_open311_app``), mounted by api.app at the root: its errors are
GeoReport's (a list of {"code", "description"}), not the /api's {"detail"}, and its parameters are form-encoded or
in the query string, so it parses and checks them itself (params.py) instead of relying on the /api InputGuard.
"""
