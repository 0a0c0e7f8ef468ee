"""cadence: make sure every sales lead is followed up."""
