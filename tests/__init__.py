"""cadence's tests."""
