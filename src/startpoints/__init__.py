"""Publish, assemble, serve and pre-pull cyber-dojo's start points as OCI images."""

__version__ = "0.1.0"
