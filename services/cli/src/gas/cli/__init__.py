"""gas: the command-line client of GAS's API (docs/api.md)."""

__version__ = "0.1.0"
