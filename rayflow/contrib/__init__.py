"""Integrations with other libraries, each in its own module with its own optional dependencies
(``rayflow.contrib.opentelemetry``: ``pip install rayflow[opentelemetry]``)."""
