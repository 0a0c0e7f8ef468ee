"""Test support: real servers (a private Dovecot, the SMTP sink) and their pytest fixtures."""
