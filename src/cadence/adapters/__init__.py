"""Adapters: the database, files, SMTP, IMAP and templates."""
