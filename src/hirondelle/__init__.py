"""Hirondelle: a self-hosted SMS platform speaking the allmysms HTTP API 9.0 and SMPP 3.4."""

__version__ = "0.1.0"
