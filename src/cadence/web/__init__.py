"""The web app (``cadence web``): unsubscribe links now; the reps' and marketers' workspace later.

:func:`cadence.web.app.create_app` builds the FastAPI application (one router per area);
:func:`cadence.web.server.serve` runs it with uvicorn.
"""
