"""The pure core of cadence: no clock reads, no I/O. Time is always passed in."""
