"""The ``supportdesk`` command line: an entry point like the web, calling engine functions."""

from .main import main

__all__ = ["main"]
