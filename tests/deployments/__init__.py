"""Tests of the Prefect deployments: a real server, a real worker, real mail and PostgreSQL."""
