"""HTTP APIs: API 9.0 (`v9/`) and the REST API (`rest/`). Thin: decode, call a service, encode."""
