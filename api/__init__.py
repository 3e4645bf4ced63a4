"""Damamaya's HTTP API beside the screens: pushed reports (`api.ingest`)."""
