"""The JSON API under ``/api/v1``: ``core`` (schemas, endpoint metadata, JSON bodies, paging),
``serializers`` (what may be shown), one module per domain area, and ``openapi`` (the served
OpenAPI 3.1 document built from the endpoints' own declarations)."""
