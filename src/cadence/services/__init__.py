"""Use cases: what the CLI, the flows and the web app do, joining the core and the adapters."""
