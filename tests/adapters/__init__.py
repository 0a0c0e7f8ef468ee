"""Tests of the adapters: the database, files, SMTP, IMAP."""
