"""Use cases, one transaction each: what the APIs, the customer area, the CLI and workers call."""
