"""The remote codec endpoint: `POST /decode` and `POST /encode` in Temporal's codec-server
protocol, for the Temporal Web UI (`--ui-codec-endpoint`) and
`temporal ... --codec-endpoint <gateway> --codec-auth "Bearer <token>"`.

Only authorised operators get decoded payloads: a bearer token from CSP_CODEC_TOKENS, or the
session cookie `/codec-login` sets after the same token was typed in (the Web UI cannot send a
bearer token without single sign-on; with "include cross-origin credentials" it sends the cookie).
CORS answers only the configured UI origin(s). `/encode` exists so that `temporal workflow start
--codec-endpoint` and the UI's start/update forms keep their input encrypted too.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

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

log = structlog.get_logger(__name__)

SESSION_COOKIE = "csp_codec_session"
MAX_CODEC_BODY_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class CodecConfig:
    codec: PayloadCodec | None
    tokens: Sequence[str]
    ui_origins: Sequence[str]
    session_lifetime: timedelta = timedelta(hours=12)


def _session_value(token: str, expires: int) -> str:
    mac = hmac.new(token.encode(), f"codec-session.{expires}".encode(), hashlib.sha256)
    return f"v1.{expires}.{mac.hexdigest()}"


def _valid_session(tokens: Sequence[str], cookie: str, now: float) -> bool:
    version, _, rest = cookie.partition(".")
    expires_text, _, _ = rest.partition(".")
    if version != "v1" or not expires_text.isdigit() or int(expires_text) < now:
        return False
    matched = False
    for token in tokens:  # every token compared: no early exit on a match
        matched |= hmac.compare_digest(cookie, _session_value(token, int(expires_text)))
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
    if not config.tokens:
        return False
    if _valid_bearer(config.tokens, request.headers.get("authorization", "")):
        return True
    cookie = request.cookies.get(SESSION_COOKIE)
    return cookie is not None and _valid_session(config.tokens, cookie, time.time())


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
                "a valid `Authorization: Bearer <codec token>` or codec session is required",
                401,
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
            "Session started: in the Temporal UI's codec settings, turn on "
            "\u201cinclude cross-origin credentials\u201d."
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
