"""Tests of the cadence CLI."""
