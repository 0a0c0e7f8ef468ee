"""The web app (``cadence web``): unsubscribe links, and the workspace of reps, marketers and managers.

:func:`cadence.web.app.create_app` builds the FastAPI application (one router per area);
:func:`cadence.web.server.serve` runs it with uvicorn.
"""
