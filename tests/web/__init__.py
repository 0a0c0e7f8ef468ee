"""Tests of the web app, served for real by uvicorn and spoken to over HTTP."""
