"""Prefect flows of cadence: thin wrappers over the services."""
