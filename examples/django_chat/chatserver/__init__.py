"""The chat example project: settings, URLs and the WSGI entry point."""
