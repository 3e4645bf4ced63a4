"""The HTTP API under /api/v1: open data (api/open_data.py), its OpenAPI document, and pushed reports (api/ingest.py)."""
