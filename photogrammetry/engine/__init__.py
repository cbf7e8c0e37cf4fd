"""The staged engine: content-addressed artifacts, resume, workspace lock, settings."""
