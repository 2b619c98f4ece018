"""Who may talk to the annotation server: a trusted-host check (always on) and HTTP basic auth (when configured).

The Host check refuses requests whose ``Host`` header names anything but the address the server is bound to, the
loopback names, and the names given with ``--allowed-host``: a web page that rebinds its own domain to 127.0.0.1
(DNS rebinding) sends its own name as Host, and is refused. Basic auth users come from ``--auth user:password``
(repeatable) or ``$ELKIT_ANNOTATE_AUTH`` (``user:password`` pairs separated by commas); it is required whenever
the server is bound to anything but loopback. With auth on, a session belongs to the user of the same name: a
user reads and writes only their own session.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import ipaddress
import os
import socket
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from elkit.errors import ConfigError

__all__ = ["AUTH_ENVIRONMENT", "AccessGuard", "AccessSettings", "is_loopback", "parse_users"]

AUTH_ENVIRONMENT = "ELKIT_ANNOTATE_AUTH"
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_USER_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@-")


def is_loopback(host: str) -> bool:
    """Whether an address or name only reaches this machine."""
    if host.strip("[]") in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_users(pairs: Iterable[str], where: str = "--auth") -> dict[str, str]:
    """``user:password`` pairs (a value may hold several, comma separated) as a user → password map.

    Raises:
        ConfigError: A pair without a colon, an empty password, a user name the sessions cannot use, or a user
            named twice.
    """
    users: dict[str, str] = {}
    for value in pairs:
        for pair in (part.strip() for part in value.split(",")):
            if not pair:
                continue
            user, separator, password = pair.partition(":")
            if not separator or not user or not password:
                raise ConfigError(f"{where}: expected user:password, got {user or pair[:20]!r}…")
            if len(user) > 100 or not set(user) <= _USER_CHARACTERS:
                raise ConfigError(f"{where}: user {user!r} must be 1 to 100 letters, digits or _ . @ - "
                                  "(it is also the user's session name)")
            if user in users:
                raise ConfigError(f"{where}: user {user!r} is given twice")
            users[user] = password
    return users


class AccessSettings(BaseModel):
    """Who may use the server.

    Attributes:
        host: The address the server is bound to.
        allowed_hosts: More names the Host header may carry (a public DNS name, a proxy's name).
        users: Basic-auth users and passwords; empty turns auth off (only allowed on loopback).
    """

    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    allowed_hosts: list[str] = Field(default_factory=list)
    users: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def build(cls, host: str, auth: Iterable[str] = (), allowed_hosts: Iterable[str] = ()) -> AccessSettings:
        """Settings from the command line, with ``$ELKIT_ANNOTATE_AUTH`` when ``auth`` is empty.

        Raises:
            ConfigError: A bad user:password pair, or a non-loopback host without auth.
        """
        users = parse_users(auth)
        if not users and os.environ.get(AUTH_ENVIRONMENT):
            users = parse_users([os.environ[AUTH_ENVIRONMENT]], AUTH_ENVIRONMENT)
        settings = cls(host=host, allowed_hosts=[name.strip().lower() for name in allowed_hosts if name.strip()],
                       users=users)
        if not is_loopback(host) and not users:
            raise ConfigError(f"--host {host} serves beyond this machine: set --auth user:password (or "
                              f"${AUTH_ENVIRONMENT}) so that only your annotators can read and write the data")
        return settings

    @property
    def auth(self) -> bool:
        """Whether basic auth is on."""
        return bool(self.users)

    def host_names(self) -> frozenset[str]:
        """The names a request's Host header may carry (without the port)."""
        names = set(_LOOPBACK_NAMES) | {self.host.lower().strip("[]")} | set(self.allowed_hosts)
        if self.host in ("0.0.0.0", "::"):  # every interface: this machine's own names and addresses too
            hostname = socket.gethostname()
            names |= {hostname.lower(), socket.getfqdn().lower()}
            with contextlib.suppress(OSError):
                names |= set(socket.gethostbyname_ex(hostname)[2])
        return frozenset(names)

    def check_user(self, header: str | None) -> str | None:
        """The user an ``Authorization: Basic`` header proves, or None."""
        if not header or not header.lower().startswith("basic "):
            return None
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, _, password = decoded.partition(":")
        expected = self.users.get(user)
        # Compare against something even for unknown users, so timing does not tell which users exist.
        matched = hmac.compare_digest(password.encode(), (expected or "\0" * 16).encode())
        return user if expected is not None and matched else None


def _host_name(value: str) -> str:
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class AccessGuard:
    """ASGI middleware: 400 for a Host the server does not answer to, 401 without valid credentials (auth on).

    The authenticated user is put in ``scope["state"]["user"]`` for the routes' session check.
    """

    def __init__(self, app: ASGIApp, settings: AccessSettings) -> None:
        self.app = app
        self.settings = settings
        self.names = settings.host_names()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the Host (and the user), then pass the request on."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: dict[str, str] = {}
        for key, value in scope["headers"]:
            headers.setdefault(key.decode("latin-1").lower(), value.decode("latin-1"))
        host = _host_name(headers.get("host", ""))
        if host not in self.names:
            response: Any = JSONResponse({"detail": f"this server does not answer to Host {host[:100]!r} "
                                                    "(start it with --allowed-host NAME to add a name)"}, 400)
            await response(scope, receive, send)
            return
        user = None
        if self.settings.auth:
            user = self.settings.check_user(headers.get("authorization"))
            if user is None:
                response = JSONResponse({"detail": "log in (HTTP basic auth)"}, 401,
                                        headers={"WWW-Authenticate": 'Basic realm="elkit annotate", charset="UTF-8"'})
                await response(scope, receive, send)
                return
        scope.setdefault("state", {})["user"] = user
        await self.app(scope, receive, send)
