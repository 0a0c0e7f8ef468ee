"""Tests of the Prefect flows, against real SMTP and database servers."""
