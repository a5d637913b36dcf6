"""The command line: one small module per command over the plain functions of the API."""
