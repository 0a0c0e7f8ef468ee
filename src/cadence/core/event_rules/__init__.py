"""The cases of the one rule of :mod:`cadence.core.events`, by topic (pure)."""
