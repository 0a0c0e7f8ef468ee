"""Tests of the pure core: scheduling, cadences, qualification, enrollment states, leads."""
