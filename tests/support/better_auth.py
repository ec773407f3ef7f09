"""A real Better Auth server: npm ``better-auth``, pinned in tests/interop/issuer/package-lock.json.

Typical use from a pytest fixture::

    @pytest.fixture(scope="session")
    def issuer():
        with BetterAuthIssuer(alg="EdDSA") as iss:
            yield iss

    def test_something(issuer):
        session = issuer.sign_up()            # a fresh user, unique e-mail
        token = session.token()               # a real JWT from GET /api/auth/token
        ...  # point taskql at issuer.url (BETTER_AUTH_URL) / issuer.jwks_url

The npm packages are installed once per lock-file hash into ``<repo>/.cache/`` (gitignored) with
``npm ci``. A missing ``node``/``npm`` raises NodeError: interop tests must fail, not skip, on a
machine without Node.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import json
import os
import queue
import subprocess
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import Any, Literal, Self

import httpx

from tests.support.npm import cache_root, installed, place, which
from tests.support.paths import REPO
from tests.support.tokens import decode_unverified

ALGORITHMS: tuple[str, ...] = ("EdDSA", "ES256", "ES512", "RS256", "PS256")
DEFAULT_SECRET = "taskql-interop-test-secret-0123456789abcdef"
DEFAULT_PASSWORD = "correct-horse-battery-staple"

ISSUER_SRC = REPO / "tests" / "interop" / "issuer"
NEEDED_BY = "the Better Auth interop tests"
_SCRIPT = "issuer.mjs"


class BetterAuthHarnessError(RuntimeError):
    """The harness could not install, start or talk to the Better Auth issuer."""


class IssuerStartupError(BetterAuthHarnessError):
    """``node issuer.mjs`` exited or did not report ready in time (message has its stderr tail)."""


def ensure_installed() -> Path:
    """The pinned npm packages and ``issuer.mjs``, installed once per lock hash (see npm.py)."""
    root = cache_root("TASKQL_INTEROP_CACHE")
    install_dir, _ = installed(ISSUER_SRC, root, "better-auth-issuer", NEEDED_BY)
    place(ISSUER_SRC / _SCRIPT, install_dir / _SCRIPT)
    return install_dir


def _text(value: float | str | None, kind: type[float] | None = None) -> str | None:
    """An option's value as the script's argv takes it (floats as Python writes them)."""
    if value is None:
        return None
    return repr(float(value)) if kind is float else str(value)


def _check(response: httpx.Response, what: str) -> httpx.Response:
    if response.status_code >= 400:
        raise BetterAuthHarnessError(
            f"{what}: HTTP {response.status_code} from Better Auth: {response.text[:500]}"
        )
    return response


class Session:
    """A signed-in Better Auth user: holds the session cookie."""

    def __init__(self, issuer: BetterAuthIssuer, client: httpx.Client, body: dict[str, Any]):
        self.issuer = issuer
        self._client = client
        self.user: dict[str, Any] = body["user"]
        self.user_id: str = self.user["id"]
        self.email: str = self.user["email"]
        self.name: str = self.user["name"]
        #: the opaque session token (also in the cookie), not a JWT
        self.session_token: str | None = body.get("token")

    @property
    def cookies(self) -> dict[str, str]:
        return dict(self._client.cookies.items())

    def token(self) -> str:
        """``GET /api/auth/token`` with the session cookie: a fresh JWT."""
        response = _check(self._client.get("/api/auth/token"), "GET /api/auth/token")
        token = response.json()["token"]
        assert isinstance(token, str)
        return token

    def get_session(self) -> tuple[dict[str, Any], str | None]:
        """``GET /api/auth/get-session``: ``(body, set-auth-jwt header)``."""
        response = _check(self._client.get("/api/auth/get-session"), "GET /api/auth/get-session")
        return response.json(), response.headers.get("set-auth-jwt")

    def sign_out(self) -> None:
        _check(self._client.post("/api/auth/sign-out", json={}), "POST /api/auth/sign-out")

    @property
    def session_id(self) -> str:
        """Better Auth's id of this session (what `sid` carries with ``payload="sid"``)."""
        body, _ = self.get_session()
        session_id = body["session"]["id"]
        assert isinstance(session_id, str)
        return session_id

    def revoke_session(self, other: Session) -> None:
        """``POST /api/auth/revoke-session``: end `other`, a session of the same user."""
        body = {"token": other.session_token}
        _check(self._client.post("/api/auth/revoke-session", json=body), "revoke-session")

    def revoke_sessions(self) -> None:
        """``POST /api/auth/revoke-sessions``: end every session of this user, this one too."""
        _check(self._client.post("/api/auth/revoke-sessions", json={}), "revoke-sessions")

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"<Session user_id={self.user_id!r} email={self.email!r}>"


_live: set[BetterAuthIssuer] = set()
_live_lock = threading.Lock()


@atexit.register
def _stop_all() -> None:  # last resort: never leave node processes behind
    with _live_lock:
        issuers = list(_live)
    for issuer in issuers:
        with contextlib.suppress(Exception):
            issuer.stop()


@dataclass(eq=False, repr=False)  # compared and hashed by identity: `_live` is a set of them
class BetterAuthIssuer:
    """A ``node issuer.mjs`` process: a real Better Auth server with the JWT plugin.

    Use as a context manager (or call :meth:`start` / :meth:`stop`). The server listens on
    ``127.0.0.1`` with an ephemeral port; its state (users, keys) is in memory only.

    Options map one to one onto the JWT plugin (see BETTER_AUTH.md):
      * ``alg``: ``EdDSA`` (Ed25519, default), ``ES256``, ``ES512``, ``RS256``, ``PS256``
      * ``rotation_interval`` / ``grace_period``: seconds (floats allowed; rotation is lazy:
        the first token request after the key is ``rotation_interval`` old mints a new key)
      * ``issuer`` / ``audience`` (a list makes ``aud`` an array), ``expiration_time``
        (``"15m"`` style string, or an int number of seconds)
      * ``payload="narrow"``: ``definePayload`` returning only ``email`` and ``name``;
        ``payload="sid"``: the default claims plus ``sid: session.id`` (SPEC §4)
      * ``database_url``: keep users and sessions in that PostgreSQL database (Better Auth's
        own migrations make its tables at start) instead of in memory
    """

    alg: str = "EdDSA"
    _: KW_ONLY
    rotation_interval: float | None = None
    grace_period: float | None = None
    issuer: str | None = None
    audience: str | Sequence[str] | None = None
    expiration_time: str | int | None = None
    payload: Literal["default", "narrow", "sid"] = "default"
    database_url: str | None = None
    modulus_length: int | None = None
    secret: str = DEFAULT_SECRET
    port: int = 0
    startup_timeout: float = 30.0
    log_level: str = "warn"
    extra_env: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.info: dict[str, Any] = {}
        self._url: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._stdout_lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: collections.deque[str] = collections.deque(maxlen=400)
        self._threads: list[threading.Thread] = []
        self._http: httpx.Client | None = None
        self._sessions: list[Session] = []

    def _argv(self) -> list[str]:
        audience = self.audience
        if audience is not None and not isinstance(audience, str):
            audience = json.dumps(list(audience))
        options = {
            "--rotation-interval": _text(self.rotation_interval, float),
            "--grace-period": _text(self.grace_period, float),
            "--issuer": self.issuer,
            "--audience": audience,
            "--expiration-time": _text(self.expiration_time),
            "--modulus-length": _text(self.modulus_length),
            "--database-url": self.database_url,
        }
        argv = ["--port", str(self.port), "--alg", self.alg, "--payload", self.payload]
        for flag, value in options.items():
            if value is not None:
                argv += [flag, value]
        return argv

    def _env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("BETTER_AUTH_", "ISSUER_")) and k != "NODE_ENV"
        }
        env.update(
            ISSUER_SECRET=self.secret,
            ISSUER_LOG_LEVEL=self.log_level,
            BETTER_AUTH_TELEMETRY="0",
            NO_COLOR="1",
        )
        env.update(self.extra_env)
        return env

    def _pump(self, stream: Any, is_stdout: bool) -> None:
        sink = self._stdout_lines.put if is_stdout else self._stderr.append
        try:
            for raw in iter(stream.readline, b""):
                sink(raw.decode("utf-8", "replace").rstrip("\n"))
        except (OSError, ValueError):
            pass
        finally:
            if is_stdout:
                self._stdout_lines.put(None)  # tells _wait_ready that the process is gone

    def start(self) -> Self:
        if self._proc is not None:
            raise BetterAuthHarnessError("issuer already started")
        install_dir = ensure_installed()
        node = which("node", NEEDED_BY)
        self._proc = subprocess.Popen(
            [node, str(install_dir / _SCRIPT), *self._argv()],
            cwd=install_dir,
            env=self._env(),
            stdin=subprocess.PIPE,  # the issuer exits when this closes (also if we die)
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        with _live_lock:
            _live.add(self)
        for stream, is_stdout in ((self._proc.stdout, True), (self._proc.stderr, False)):
            thread = threading.Thread(
                target=self._pump,
                args=(stream, is_stdout),
                name="better-auth-issuer-pump",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        assert self._url is not None
        self._http = httpx.Client(
            base_url=self._url, timeout=15.0, trust_env=False, headers={"Origin": self._url}
        )
        return self

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        seen: list[str] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise IssuerStartupError(self._startup_message("did not report ready", seen))
            try:
                line = self._stdout_lines.get(timeout=min(remaining, 0.25))
            except queue.Empty:
                continue
            if line is None:  # stdout closed: the process is gone
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._proc.wait(timeout=2)
                for thread in self._threads:
                    thread.join(timeout=2)
                raise IssuerStartupError(
                    self._startup_message(f"exited with code {self._proc.poll()}", seen)
                )
            seen.append(line)
            with contextlib.suppress(ValueError):
                info = json.loads(line)
                if isinstance(info, dict) and info.get("ready") is True:
                    self.info = info
                    self._url = str(info["url"])
                    return

    def _startup_message(self, what: str, stdout_lines: list[str]) -> str:
        parts = [f"Better Auth issuer ({self.alg}, args {self._argv()}) {what}."]
        if stdout_lines:
            parts.append("stdout:\n" + "\n".join(stdout_lines[-20:]))
        parts.append("stderr (tail):\n" + (self.stderr_tail() or "<empty>"))
        return "\n".join(parts)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the node process: close stdin, then SIGTERM, then SIGKILL. Idempotent."""
        for session in self._sessions:
            session.close()
        self._sessions.clear()
        if self._http is not None:
            self._http.close()
            self._http = None
        proc = self._proc
        if proc is None:
            return
        try:
            if proc.poll() is None:
                if proc.stdin is not None:
                    with contextlib.suppress(OSError):
                        proc.stdin.close()
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    proc.terminate()
                    try:
                        proc.wait(timeout=timeout)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait(timeout=timeout)
        finally:
            for thread in self._threads:
                thread.join(timeout=2)
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
            with _live_lock:
                _live.discard(self)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: Better Auth's ``baseURL``, default ``iss`` and ``aud``."""
        if self._url is None:
            raise BetterAuthHarnessError("issuer not started")
        return self._url

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/api/auth/jwks"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stderr_tail(self, lines: int = 40) -> str:
        return "\n".join(list(self._stderr)[-lines:])

    @property
    def http(self) -> httpx.Client:
        """A cookie-less client on :attr:`url` (sends ``Origin: url``)."""
        if self._http is None:
            raise BetterAuthHarnessError("issuer not started")
        return self._http

    def _new_client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, timeout=15.0, trust_env=False, headers={"Origin": self.url}
        )

    def _session_from(self, path: str, body: dict[str, Any]) -> Session:
        client = self._new_client()
        try:
            response = _check(client.post(path, json=body), f"POST {path}")
            if not client.cookies:
                raise BetterAuthHarnessError(f"POST {path} set no session cookie")
            session = Session(self, client, response.json())
        except BaseException:
            client.close()
            raise
        self._sessions.append(session)
        return session

    def sign_up(
        self,
        email: str | None = None,
        password: str = DEFAULT_PASSWORD,
        name: str = "Test User",
    ) -> Session:
        """``POST /api/auth/sign-up/email``; ``email`` defaults to a fresh unique address."""
        if email is None:
            email = f"user-{uuid.uuid4().hex[:12]}@example.com"
        return self._session_from(
            "/api/auth/sign-up/email", {"email": email, "password": password, "name": name}
        )

    def sign_in(self, email: str, password: str = DEFAULT_PASSWORD) -> Session:
        """``POST /api/auth/sign-in/email``: a second, independent session of an existing user."""
        return self._session_from("/api/auth/sign-in/email", {"email": email, "password": password})

    def jwks(self) -> dict[str, Any]:
        """``GET /api/auth/jwks``."""
        body = _check(self.http.get("/api/auth/jwks"), "GET /api/auth/jwks").json()
        assert isinstance(body, dict)
        return body

    def kids(self) -> list[str]:
        return [key["kid"] for key in self.jwks()["keys"]]

    def sign_jwt(
        self, payload: Mapping[str, Any], override_options: Mapping[str, Any] | None = None
    ) -> str:
        """Sign an arbitrary payload with the issuer's current key (test-only endpoint).

        Goes through Better Auth's own server-side ``signJWT``: header ``{alg, kid}``; ``iss`` and
        ``aud`` default to the configured ones; ``exp`` defaults to ``iat``/now + expirationTime;
        ``iat`` is set only if the payload has it. Use it for expired, wrong-audience or
        ``sub``-less tokens signed by a real key.
        """
        body: dict[str, Any] = {"payload": dict(payload)}
        if override_options is not None:
            body["overrideOptions"] = dict(override_options)
        response = _check(self.http.post("/test/sign-jwt", json=body), "POST /test/sign-jwt")
        token = response.json()["token"]
        assert isinstance(token, str)
        return token

    def force_rotation(self, session: Session, timeout: float | None = None) -> str:
        """Request tokens until one is signed by a new key; return that token.

        Needs ``rotation_interval``; takes about ``rotation_interval`` seconds (rotation is
        lazy: the first token request after the current key expires mints the next key).
        """
        if self.rotation_interval is None:
            raise BetterAuthHarnessError("force_rotation needs rotation_interval")
        old_kid = decode_unverified(session.token())[0]["kid"]
        deadline = time.monotonic() + (timeout or self.rotation_interval + 10.0)
        while time.monotonic() < deadline:
            time.sleep(min(0.1, self.rotation_interval / 4))
            token = session.token()
            if decode_unverified(token)[0]["kid"] != old_kid:
                return token
        raise BetterAuthHarnessError(f"no key rotation within the deadline (kid {old_kid})")

    def __repr__(self) -> str:
        return f"<BetterAuthIssuer alg={self.alg} url={self._url} running={self.running}>"
