"""Accounts of the web workspace: roles, argon2id password hashes, server-side sessions, the login rate limit.

Roles
    ``rep``: their own tasks and leads (another rep's are "not found"); ``marketer``: the cadences,
    the templates with their checks and previews, and every lead read-only; ``manager``: everything,
    including the dashboard, and may act on any rep's tasks and leads. A rep's account is linked to
    the ``reps`` row of the same email, which must exist.

Passwords
    Hashed with argon2id (:data:`HASHER`, argon2-cffi's defaults: RFC 9106's low-memory profile);
    a hash made with older parameters is upgraded at the next login. At least
    :data:`MIN_PASSWORD_CHARS` characters. A login for an unknown address verifies against a dummy
    hash, so that it takes as long as a wrong password and says the same.

Sessions
    The cookie holds a random token; the database keeps only its SHA-256, the user, a CSRF token
    and a one-message flash. A session ends after :data:`SESSION_IDLE` without a request, after
    :data:`SESSION_LIFETIME` in any case, at logout, and when the account is disabled; logging in
    replaces the session the browser had (rotation).

Rate limit
    Every attempt is stored before its password is checked (so that every worker sees it, and
    concurrent guesses cannot pass the limit together); a success clears the account's failures.
    After :data:`MAX_FAILURES_PER_ADDRESS` failures of one account from one client address, that
    pair is locked out for :data:`FAILURE_WINDOW` after its latest failure, twice as long after each
    further one (up to :data:`MAX_LOCKOUT`): the same account from elsewhere is not. A client is
    refused after :data:`MAX_FAILURES_PER_CLIENT` failures within :data:`FAILURE_WINDOW` whatever the
    accounts, and an account after :data:`MAX_FAILURES_PER_ADDRESS_ANYWHERE` from all clients.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from cadence.adapters.models import LoginFailure, Rep, User, WebSession
from cadence.core.leads import clean_text, normalize_email
from cadence.errors import AlreadyExists, CadenceError, NotFound, ValidationError
from cadence.services import audit


class Role(StrEnum):
    """What an account may see and do (see the module documentation)."""

    REP = "rep"
    MARKETER = "marketer"
    MANAGER = "manager"


HASHER = PasswordHasher()
"""The password hasher (argon2id). Tests swap in cheaper parameters; hashes record their own."""

MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1024
SESSION_IDLE = timedelta(hours=2)
SESSION_LIFETIME = timedelta(hours=12)
SEEN_EVERY = timedelta(minutes=1)
"""A session's last-seen time is written at most this often (not on every request)."""
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ADDRESS = 5
MAX_FAILURES_PER_CLIENT = 20
"""Higher than per address: an office behind one NAT address shares it."""
MAX_FAILURES_PER_ADDRESS_ANYWHERE = 50
"""Failures for one account from all clients within :data:`FAILURE_WINDOW`: guesses spread over many sources."""
MAX_LOCKOUT = timedelta(hours=24)
"""The longest lock-out of an account from one client; older failures are forgotten."""

_DUMMY_HASHES: dict[tuple[int, int, int], str] = {}


class Throttled(CadenceError):
    """Too many failed logins: try again later."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        minutes = max(1, -(-retry_after // 60))
        super().__init__(f"Too many failed logins. Try again in {minutes} minute{'s' if minutes != 1 else ''}.")


@dataclass(frozen=True)
class Viewer:
    """The signed-in user of one request, as the web pages need them (plain data, no ORM object)."""

    user_id: int
    email: str
    name: str
    role: Role
    rep_id: int | None
    timezone: str | None
    session_id: int
    csrf_token: str
    flash: str | None

    @property
    def is_manager(self) -> bool:
        """True for a manager, who sees and may change everything."""
        return self.role is Role.MANAGER


@dataclass(frozen=True)
class Grant:
    """A successful login: the new session's cookie token (shown once, stored hashed) and its user."""

    token: str
    user_id: int
    role: Role


# -- Accounts -----------------------------------------------------------------------------------


def parse_role(value: str) -> Role:
    """The :class:`Role` named ``value``, or a :class:`ValidationError` listing the roles."""
    try:
        return Role(value.strip().lower())
    except ValueError:
        raise ValidationError(f"unknown role {value!r}; choose one of {', '.join(r.value for r in Role)}") from None


def validate_password(password: str) -> str:
    """``password`` if it is long enough (and not absurdly long), else a :class:`ValidationError`."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValidationError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise ValidationError(f"a password has at most {MAX_PASSWORD_CHARS} characters")
    if not password.strip():
        raise ValidationError("a password cannot be only spaces")
    return password


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (a PHC string with its salt and parameters)."""
    return HASHER.hash(password)


def add_user(
    session: Session, email: str, *, role: Role | str, password: str, now: datetime, name: str | None = None
) -> User:
    """Create an account; a rep's needs the rep of the same email. :class:`AlreadyExists` if the address has one."""
    address = normalize_email(email)
    chosen = role if isinstance(role, Role) else parse_role(role)
    validate_password(password)
    if session.scalar(select(User.id).where(User.email == address)) is not None:
        raise AlreadyExists(f"an account for {address} exists already")
    rep = session.scalar(select(Rep).where(Rep.email == address))
    if chosen is Role.REP and rep is None:
        raise NotFound(f"no rep with email {address}: add the rep first (`cadence reps add {address} --name NAME`)")
    display = clean_text("name", name, max_length=200) if name else None
    user = User(
        email=address,
        name=display or (rep.name if rep is not None else address.split("@", 1)[0]),
        role=chosen.value,
        password_hash=hash_password(password),
        rep_id=rep.id if chosen is Role.REP and rep is not None else None,
        active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def list_users(session: Session) -> list[dict[str, Any]]:
    """Every account (never its hash), by email."""
    return [
        {
            "email": user.email,
            "name": user.name,
            "role": user.role,
            "rep": user.rep.email if user.rep else None,
            "active": user.active,
            "created_at": user.created_at.isoformat(),
            "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None,
        }
        for user in session.scalars(select(User).order_by(User.email))
    ]


def disable_user(session: Session, email: str) -> User:
    """Disable an account: it cannot log in any more and its sessions end now."""
    address = normalize_email(email)
    user = session.scalar(select(User).where(User.email == address))
    if user is None:
        raise NotFound(f"no account for {address}")
    user.active = False
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    session.flush()
    return user


def set_password(session: Session, email: str, password: str) -> User:
    """Give an account a new password; its open sessions end now (whoever knew the old one is logged out)."""
    address = normalize_email(email)
    validate_password(password)
    user = session.scalar(select(User).where(User.email == address))
    if user is None:
        raise NotFound(f"no account for {address}")
    user.password_hash = hash_password(password)
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    session.execute(delete(LoginFailure).where(LoginFailure.email == address))
    session.flush()
    return user


# -- Logging in ---------------------------------------------------------------------------------


def _login_key(email: str) -> str:
    """The address a login attempt is counted under (whatever was typed, if it is not an address)."""
    try:
        return normalize_email(email)
    except ValidationError:
        return email.strip().lower()[:320]


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _dummy_hash() -> str:
    """A hash with the current parameters, to verify unknown addresses against (same time as a real one)."""
    key = (HASHER.time_cost, HASHER.memory_cost, HASHER.parallelism)
    if key not in _DUMMY_HASHES:
        _DUMMY_HASHES[key] = HASHER.hash(secrets.token_urlsafe(16))
    return _DUMMY_HASHES[key]


def _verify(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _retry_after(session: Session, column: Any, value: str, limit: int, now: datetime, *, own: int) -> int | None:
    """Seconds until a login for ``value`` is allowed again, or None when it is allowed now (``own`` not counted)."""
    since = now - FAILURE_WINDOW
    times = session.scalars(
        select(LoginFailure.failed_at)
        .where(column == value, LoginFailure.failed_at > since, LoginFailure.id != own)
        .order_by(LoginFailure.failed_at.desc())
        .limit(limit)
    ).all()
    if len(times) < limit:
        return None
    return max(1, math.ceil((times[-1] + FAILURE_WINDOW - now).total_seconds()))


def _new_session(session: Session, user: User, now: datetime) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_hash=_token_hash(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
        )
    )
    return token


def _serialize(session: Session, client: str) -> None:
    """Make the logins from one client take turns (PostgreSQL: a transaction-scoped advisory lock).

    SQLite needs none: the attempt's INSERT, the transaction's first statement, takes its write lock.
    """
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(f"cadence-login:{client}".encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _locked_out(session: Session, key: str, client: str, own: int, now: datetime) -> int | None:
    """Seconds until ``key`` may try again from ``client`` (None: now), the attempt ``own`` not counted.

    Per account and source: after :data:`MAX_FAILURES_PER_ADDRESS` failures the pair waits
    :data:`FAILURE_WINDOW` after its latest failure, twice as long after each further failure, up to
    :data:`MAX_LOCKOUT`; failures older than :data:`MAX_LOCKOUT` are forgotten. Per client and per
    account from anywhere: the flat limits of :func:`_retry_after`.
    """
    previous = session.scalars(
        select(LoginFailure.failed_at)
        .where(LoginFailure.email == key, LoginFailure.client == client, LoginFailure.id != own,
               LoginFailure.failed_at > now - MAX_LOCKOUT)
        .order_by(LoginFailure.failed_at.desc())
        .limit(64)
    ).all()  # fmt: skip
    if len(previous) >= MAX_FAILURES_PER_ADDRESS:
        lockout = min(FAILURE_WINDOW * (1 << min(len(previous) - MAX_FAILURES_PER_ADDRESS, 16)), MAX_LOCKOUT)
        if previous[0] + lockout > now:
            return max(1, math.ceil((previous[0] + lockout - now).total_seconds()))
    for column, value, limit in (
        (LoginFailure.client, client, MAX_FAILURES_PER_CLIENT),
        (LoginFailure.email, key, MAX_FAILURES_PER_ADDRESS_ANYWHERE),
    ):
        wait = _retry_after(session, column, value, limit, now, own=own)
        if wait is not None:
            return wait
    return None


def log_in(
    sessions: sessionmaker[Session],
    email: str,
    password: str,
    *,
    client: str,
    now: datetime,
    previous_token: str | None = None,
) -> Grant | None:
    """Check a login; on success open a new session (ending ``previous_token``'s) and return it, else None.

    Raises :class:`Throttled` while the account is locked out from this client, or the client or the
    account is over its limit. The attempt is counted before the password is checked, in the same
    transaction as the limits are read, one client at a time: concurrent guesses cannot pass the
    limit together. The password is checked outside any database transaction (argon2 takes a while;
    SQLite would hold its write lock); a refused attempt is not counted as a failure.
    """
    key = _login_key(email)
    client = client[:64] or "-"
    wait: int | None = None
    with sessions() as session, session.begin():
        _serialize(session, client)
        attempt = LoginFailure(email=key, client=client, failed_at=now)
        session.add(attempt)
        session.flush()
        wait = _locked_out(session, key, client, attempt.id, now)
        if wait is not None:
            session.delete(attempt)
        found = session.execute(select(User.id, User.password_hash, User.active).where(User.email == key)).first()
    if wait is not None:
        raise Throttled(wait)
    ok = _verify(found.password_hash if found is not None else _dummy_hash(), password) and bool(found and found.active)
    with sessions() as session, session.begin():
        if found is None or not ok:  # the attempt, counted already, stays a failure
            session.execute(delete(LoginFailure).where(LoginFailure.failed_at <= now - MAX_LOCKOUT))
            why = "unknown address" if found is None else "wrong password or disabled account"
            audit.record(session, key, "login.failed", key, {"client": client, "why": why}, now=now)
            return None
        user = session.get(User, found.id)
        if user is None or not user.active:  # disabled or removed meanwhile
            return None
        audit.record(session, user.email, "login.ok", user.email, {"client": client}, now=now)
        if HASHER.check_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.last_login_at = now
        session.execute(delete(LoginFailure).where(LoginFailure.email == key))
        if previous_token:
            session.execute(delete(WebSession).where(WebSession.token_hash == _token_hash(previous_token)))
        session.execute(
            delete(WebSession).where(
                (WebSession.last_seen_at <= now - SESSION_IDLE) | (WebSession.created_at <= now - SESSION_LIFETIME)
            )
        )
        token = _new_session(session, user, now)
        return Grant(token=token, user_id=user.id, role=Role(user.role))


def resume_session(session: Session, token: str, *, now: datetime) -> Viewer | None:
    """The viewer of the session whose cookie token is ``token``, or None (unknown, expired or disabled).

    An expired session is deleted. The flash message, if any, is handed over once and cleared.
    """
    row = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == _token_hash(token))
    ).first()
    if row is None:
        return None
    web_session, user = row
    if (
        not user.active
        or now - web_session.last_seen_at >= SESSION_IDLE
        or now - web_session.created_at >= SESSION_LIFETIME
    ):
        session.delete(web_session)
        return None
    flash = web_session.flash
    if flash is not None:
        web_session.flash = None
    if now - web_session.last_seen_at >= SEEN_EVERY:
        web_session.last_seen_at = now
    return Viewer(
        user_id=user.id,
        email=user.email,
        name=user.name,
        role=Role(user.role),
        rep_id=user.rep_id,
        timezone=user.rep.timezone if user.rep else None,
        session_id=web_session.id,
        csrf_token=web_session.csrf_token,
        flash=flash,
    )


def set_flash(session: Session, session_id: int, message: str) -> None:
    """Keep ``message`` for the next page this session shows (after a redirect)."""
    web_session = session.get(WebSession, session_id)
    if web_session is not None:
        web_session.flash = message[:2000]


def log_out(session: Session, token: str) -> None:
    """End the session whose cookie token is ``token`` (nothing happens for an unknown one)."""
    session.execute(delete(WebSession).where(WebSession.token_hash == _token_hash(token)))


def count_sessions(session: Session, email: str) -> int:
    """How many sessions the account of ``email`` has open (expired ones included until cleaned up)."""
    return int(
        session.scalar(
            select(func.count()).select_from(WebSession).join(User).where(User.email == normalize_email(email))
        )
        or 0
    )
