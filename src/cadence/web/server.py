"""Running the web app: ``cadence web [--host H] [--port P]``."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import pydantic
import uvicorn
from uvicorn.config import LOGGING_CONFIG

from cadence.errors import ConfigurationError
from cadence.services.dashboard_snapshot import Refresher
from cadence.settings import Settings
from cadence.web.app import create_app
from cadence.web.deps import running_from


def log_config() -> dict[str, Any]:
    """uvicorn's logging, plus our ``cadence.web`` loggers (errors, and the access log with tokens redacted);
    every handler escapes control characters, so that a request path cannot forge log lines
    (:mod:`cadence.web.log_safety`)."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["cadence.web"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    config.setdefault("filters", {})["escape_controls"] = {"()": "cadence.web.log_safety.EscapeControls"}
    for handler in config["handlers"].values():
        handler["filters"] = [*handler.get("filters", []), "escape_controls"]
    return config


def serve(host: str = "127.0.0.1", port: int = 8000, now: datetime | None = None) -> None:
    """Serve the web app on ``host``:``port`` until interrupted.

    ``now``: the app's clock starts there and runs on (the demo's data lives in a simulated
    time); by default it is the wall clock.

    Reads the settings and checks the database schema first, raising a
    :class:`~cadence.errors.CadenceError` (a bad ``CADENCE_*`` variable, the public demo key on a
    server reached from elsewhere (:meth:`~cadence.settings.Settings.demo_key_exposed`), an unreachable database,
    :class:`~cadence.services.context.SchemaNotReady`) before listening. uvicorn's own access log is off:
    it would write every unsubscribe token, which spells the address, to the log; ours redacts them.
    The dashboard's numbers are refreshed in a thread meanwhile
    (:class:`~cadence.services.dashboard_snapshot.Refresher`).
    """
    try:
        settings = Settings()
    except pydantic.ValidationError as exc:
        raise ConfigurationError(f"bad setting: {exc}") from exc
    if settings.demo_key_exposed(listen_host=host):
        raise ConfigurationError(
            f"CADENCE_SECRET_KEY is not set, and this server is reached from beyond this machine "
            f"(CADENCE_BASE_URL {settings.base_url}, listening on {host}): with the public demo key, anyone "
            "could forge an unsubscribe link for any lead. Set CADENCE_SECRET_KEY to a long random value, "
            'e.g. the output of: python -c "import secrets; print(secrets.token_urlsafe(32))"'
        )
    app = create_app(settings, clock=running_from(now) if now is not None else None)
    if settings.follow_up_deployment:
        from cadence.web.speed import deployment_waker

        app.state.intake_wakers.append(deployment_waker(settings.follow_up_deployment))
    context = app.state.context
    try:
        context.require_schema()
    except BaseException:
        context.close()
        raise
    refresher = Refresher(context, app.state.clock)
    refresher.start()
    try:
        uvicorn.run(app, host=host, port=port, log_config=log_config(), access_log=False, server_header=False,
                    **proxy_options(settings))  # fmt: skip
    finally:
        refresher.stop()


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's proxy options: ``X-Forwarded-For`` is believed only from ``CADENCE_TRUSTED_PROXIES``.

    uvicorn's own default trusts it from 127.0.0.1, so that any local process (or a proxy nobody
    configured) could choose the client address the login limit counts.
    """
    proxies = [p.strip() for p in (settings.trusted_proxies or "").split(",") if p.strip()]
    if not proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": proxies}
