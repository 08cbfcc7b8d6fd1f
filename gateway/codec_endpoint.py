"""The remote codec endpoint: `POST /decode` and `POST /encode` in Temporal's codec-server
protocol, for the Temporal Web UI (`--ui-codec-endpoint`) and
`temporal ... --codec-endpoint <gateway> --codec-auth "Bearer <token>"`.

Only authorised operators get decoded payloads:
- a bearer token from CSP_CODEC_TOKENS (the CLI's `--codec-auth`, scripts);
- a bearer JWT, as the Temporal Cloud UI sends with "Pass the user access token" on (and as
  Temporal's codec-server samples check it): signed by a key of CSP_CODEC_JWKS_FILE (a JWKS saved
  beforehand, e.g. Temporal Cloud's; nothing is fetched) or with CSP_CODEC_JWT_SECRET (HS256, an
  own identity provider), unexpired, with the configured issuer/audience, and naming in `sub` or
  `email` one of CSP_CODEC_JWT_SUBJECTS;
- the session cookie `/codec-login` sets after a codec token was typed in (the embedded Web UI
  cannot send a bearer token without single sign-on; with "Include cross-origin credentials" on it
  sends the cookie).
A request naming another namespace (`X-Namespace`, sent by the UI) is refused. CORS, preflight
included, answers only the configured UI origins: the embedded UI's and the Temporal Cloud UI's
(https://cloud.temporal.io by default). `/encode` exists so that `temporal workflow start
--codec-endpoint` and the UI's start/update forms keep their input encrypted too.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import jwt
import structlog
from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

from gateway.callbacks import error_response, read_body
from gateway.refusals import PayloadTooLarge
from runtime.payload_codec import AesGcmPayloadCodec, PayloadDecryptionError
from runtime.settings import Settings

log = structlog.get_logger(__name__)

SESSION_COOKIE = "csp_codec_session"
MAX_CODEC_BODY_BYTES = 4 * 1024 * 1024


_HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
_KEY_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")


@dataclass(frozen=True)
class JwtCheck:
    """Which bearer JWTs the codec endpoint accepts. Keys are local: a JWKS file and/or a shared
    HS256 secret. Only the listed subjects (`sub` or `email` claim) may decode."""

    subjects: frozenset[str]
    jwks: jwt.PyJWKSet | None = None
    secret: bytes | None = None
    issuer: str | None = None
    audience: str | None = None
    leeway: timedelta = timedelta(seconds=60)

    def __post_init__(self) -> None:
        if self.jwks is None and self.secret is None:
            raise ValueError("a JWT check needs CSP_CODEC_JWKS_FILE or CSP_CODEC_JWT_SECRET")
        if not self.subjects:
            raise ValueError(
                "CSP_CODEC_JWT_SUBJECTS is required with CSP_CODEC_JWKS_FILE or "
                "CSP_CODEC_JWT_SECRET: a valid signature alone says nothing about who may decode "
                "(e.g. CSP_CODEC_JWT_SUBJECTS=ops@example.com)"
            )

    def _key(self, header: dict[str, object]) -> object | None:
        algorithm = header.get("alg")
        if algorithm in _HMAC_ALGORITHMS:
            return self.secret
        if algorithm not in _KEY_ALGORITHMS or self.jwks is None:
            return None
        kid = header.get("kid")
        keys = [k for k in self.jwks.keys if kid is None or k.key_id == kid]
        if len(keys) != 1:  # unknown kid, or no kid with several keys to choose from
            return None
        key: object = keys[0].key
        return key

    def subject(self, token: str) -> str | None:
        """The accepted subject of a valid token, else None."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return None
        key = self._key(header)
        if key is None:
            return None
        try:
            claims = jwt.decode(
                token,
                key,  # type: ignore[arg-type]
                algorithms=[str(header["alg"])],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp"], "verify_aud": self.audience is not None},
            )
        except jwt.PyJWTError:
            return None
        for claim in ("sub", "email"):
            value = claims.get(claim)
            if isinstance(value, str) and value in self.subjects:
                return value
        return None


def load_jwks(path: Path) -> jwt.PyJWKSet:
    """A JWKS document saved on disk (e.g. Temporal Cloud's signing keys): never fetched."""
    try:
        return jwt.PyJWKSet.from_json(path.read_text())
    except (OSError, ValueError, jwt.PyJWTError) as err:
        raise ValueError(f"CSP_CODEC_JWKS_FILE {path}: not a readable JWKS ({err})") from None


@dataclass(frozen=True)
class CodecConfig:
    codec: PayloadCodec | None
    tokens: Sequence[str]
    ui_origins: Sequence[str]
    session_lifetime: timedelta = timedelta(hours=12)
    jwt_check: JwtCheck | None = None
    namespace: str | None = None
    """The namespace whose payloads this codec serves; a request naming another is refused."""


def codec_origins(settings: Settings) -> list[str]:
    """The browser origins CORS answers: the embedded UI's (CSP_UI_ORIGIN) and the Temporal Cloud
    UI's (CSP_CODEC_CLOUD_ORIGIN); each comma separated, empty for none."""
    origins: list[str] = []
    for text in (settings.ui_origin, settings.codec_cloud_origin):
        origins += [o.strip().rstrip("/") for o in text.split(",") if o.strip()]
    return list(dict.fromkeys(origins))


def jwt_check_from_settings(settings: Settings) -> JwtCheck | None:
    """None unless CSP_CODEC_JWKS_FILE or CSP_CODEC_JWT_SECRET is set; ValueError (at start) for
    an unreadable JWKS or a missing subject list."""
    if settings.codec_jwks_file is None and settings.codec_jwt_secret is None:
        return None
    secret = settings.codec_jwt_secret
    return JwtCheck(
        subjects=frozenset(s.strip() for s in settings.codec_jwt_subjects.split(",") if s.strip()),
        jwks=load_jwks(settings.codec_jwks_file) if settings.codec_jwks_file else None,
        secret=secret.get_secret_value().encode() if secret is not None else None,
        issuer=settings.codec_jwt_issuer,
        audience=settings.codec_jwt_audience,
    )


def _session_value(token: str, expires: int) -> str:
    mac = hmac.new(token.encode(), f"codec-session.{expires}".encode(), hashlib.sha256)
    return f"v1.{expires}.{mac.hexdigest()}"


def _valid_session(tokens: Sequence[str], cookie: str, now: float) -> bool:
    """`v1.<expiry>.<hex HMAC>` from `_session_value`, unexpired. Read as ASCII only: a cookie is
    whatever a caller sends (`str.isdigit` takes "\u00b2", `hmac.compare_digest` raises on
    non-ASCII text), and any such cookie is simply not a session."""
    version, _, rest = cookie.partition(".")
    expires_text, _, _ = rest.partition(".")
    if version != "v1" or not re.fullmatch(r"[0-9]{1,12}", expires_text):
        return False
    expires = int(expires_text)
    if expires < now:
        return False
    presented = cookie.encode()
    matched = False
    for token in tokens:  # every token compared: no early exit on a match
        matched |= hmac.compare_digest(presented, _session_value(token, expires).encode())
    return matched


def _valid_bearer(tokens: Sequence[str], header: str) -> bool:
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented:
        return False
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(presented.strip().encode(), token.encode())
    return matched


def _authorised(config: CodecConfig, request: Request) -> bool:
    header = request.headers.get("authorization", "")
    if config.tokens and _valid_bearer(config.tokens, header):
        return True
    scheme, _, presented = header.partition(" ")
    if config.jwt_check is not None and scheme.lower() == "bearer" and presented.count(".") == 2:
        subject = config.jwt_check.subject(presented.strip())
        if subject is not None:
            log.info("codec_jwt_accepted")  # never the subject: it may be an email address
            return True
    cookie = request.cookies.get(SESSION_COOKIE)
    return (
        bool(config.tokens)
        and cookie is not None
        and _valid_session(config.tokens, cookie, time.time())
    )


def codec_routes(config: CodecConfig) -> list[Route]:
    async def transform(request: Request, encode: bool) -> Response:
        codec = config.codec
        if codec is None:
            return error_response(
                "CodecDisabled", "payload encryption is off (CSP_PAYLOAD_KEYS is not set)", 404
            )
        if not _authorised(config, request):
            log.info("codec_refused", path=request.url.path)
            return error_response(
                "CodecUnauthorized",
                "a valid `Authorization: Bearer <codec token or JWT>` or codec session is required",
                401,
            )
        named = request.headers.get("x-namespace")
        if config.namespace is not None and named is not None and named != config.namespace:
            return error_response(
                "CodecWrongNamespace",
                f"this codec serves namespace {config.namespace!r}, not the one in X-Namespace",
                403,
            )
        try:
            body = await read_body(request, MAX_CODEC_BODY_BYTES)
        except PayloadTooLarge as err:
            return error_response(err.error_type, err.message, err.status)
        payloads = Payloads()
        try:
            json_format.Parse(body, payloads)
        except (json_format.ParseError, UnicodeDecodeError, ValueError, RecursionError):
            return error_response(
                "MalformedJson", 'the body is not Temporal Payloads JSON {"payloads": [...]}', 400
            )
        try:
            if encode:
                result = await codec.encode(payloads.payloads)
            elif isinstance(codec, AesGcmPayloadCodec):
                # Showing a plaintext payload (an old history, a memo) writes nothing: as it is.
                result = [codec.decrypt(p, allow_plaintext=True) for p in payloads.payloads]
            else:
                result = await codec.decode(payloads.payloads)
        except PayloadDecryptionError as err:
            return error_response("PayloadUndecodable", str(err), 422)
        log.info("codec_used", operation="encode" if encode else "decode", payloads=len(result))
        return Response(
            json_format.MessageToJson(Payloads(payloads=result)),
            media_type="application/json",
        )

    async def decode(request: Request) -> Response:
        return await transform(request, encode=False)

    async def encode(request: Request) -> Response:
        return await transform(request, encode=True)

    def login_page(message: str = "", status: int = 200) -> HTMLResponse:
        note = f"<p>{html.escape(message)}</p>" if message else ""
        return HTMLResponse(
            "<!doctype html><html><head><meta charset='utf-8'><title>Codec session</title></head>"
            "<body><h1>Decode payloads in the Temporal UI</h1>"
            f"{note}<form method='post' action='/codec-login'>"
            "<label>Codec token <input type='password' name='token' autocomplete='off'></label>"
            "<button type='submit'>Start session</button></form></body></html>",
            status_code=status,
        )

    async def show_login(request: Request) -> Response:
        return login_page()

    async def login(request: Request) -> Response:
        form = await request.form()
        token = form.get("token")
        if not isinstance(token, str) or not _valid_bearer(config.tokens, f"Bearer {token}"):
            log.info("codec_login_refused")
            return login_page("That token is not valid.", 401)
        lifetime = int(config.session_lifetime.total_seconds())
        expires = int(time.time()) + lifetime
        response = login_page(
            "Session started. In the Temporal UI click the glasses icon next to the time zone "
            "(Codec Server), choose \u201cUse my browser setting and ignore Cluster-level "
            "setting.\u201d, paste this gateway's address into \u201cCodec Server browser "
            "endpoint\u201d, switch on \u201cInclude cross-origin credentials\u201d, press "
            "Apply and reload the page."
        )
        response.set_cookie(
            SESSION_COOKIE,
            _session_value(token, expires),
            max_age=lifetime,
            httponly=True,
            # Over https the cookie must cross sites (the Temporal Cloud UI is another site):
            # SameSite=None requires Secure. The local UI on another port is the same site.
            samesite="none" if request.url.scheme == "https" else "strict",
            secure=request.url.scheme == "https",
        )
        log.info("codec_session_started")
        return response

    codec_app: ASGIApp = Starlette(
        routes=[
            Route("/decode", decode, methods=["POST"]),
            Route("/encode", encode, methods=["POST"]),
        ],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=list(config.ui_origins),
                allow_methods=["POST"],
                allow_headers=["authorization", "content-type", "x-namespace"],
                allow_credentials=True,
                max_age=600,
            )
        ],
    )
    return [
        Route("/decode", codec_app, methods=["POST", "OPTIONS"]),
        Route("/encode", codec_app, methods=["POST", "OPTIONS"]),
        Route("/codec-login", show_login, methods=["GET"]),
        Route("/codec-login", login, methods=["POST"]),
    ]
