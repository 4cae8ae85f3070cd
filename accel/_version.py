"""The accelsim version (one place; recorded in results' metadata)."""

__version__ = "0.1.0"
