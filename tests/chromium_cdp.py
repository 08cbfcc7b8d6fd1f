"""A small Chrome DevTools Protocol driver for tests: Debian's headless Chromium spoken to over
`--remote-debugging-pipe` (fd 3 in, fd 4 out, NUL-separated JSON messages), so no websocket
library and no browser download is needed. Pages are driven the way a person uses them: elements
are found by their visible text and clicked, fields are typed into."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

HEADLESS_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
)
"""Headless Chromium as every browser test runs it (the window size is each test's own)."""
_FLAGS = (*HEADLESS_FLAGS, "--window-size=1280,1000")

# Finds the innermost visible element whose own text (or aria-label) is `label`, preferring
# buttons, menu items and links; returns its centre for a real mouse click.
_FIND_BY_LABEL = """
(([label, scope]) => {
  const root = scope
    ? [...document.querySelectorAll(scope)].filter((e) => e.getBoundingClientRect().width > 0).pop()
    : document;
  if (!root) return null;
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none';
  };
  const text = (el) => (el.getAttribute('aria-label') || el.innerText || el.value || '')
    .replace(/\\s+/g, ' ').trim();
  const wanted = 'button, [role=button], [role=menuitem], [role=option], a, label, li';
  const first = (el) => (el.innerText || '').split('\\n')[0].trim();
  const all = [...root.querySelectorAll(wanted)].filter(
    (el) => visible(el) && (text(el) === label || first(el) === label));
  if (!all.length) return null;
  const el = all[all.length - 1];
  el.scrollIntoView({block: 'center'});
  const r = el.getBoundingClientRect();
  return {x: r.x + r.width / 2, y: r.y + r.height / 2,
          disabled: el.disabled === true || el.getAttribute('aria-disabled') === 'true'};
})
"""


class BrowserError(AssertionError):
    pass


_POLL_SECONDS = 0.25

_VISIBLE_CENTRE = """
((el) => { if (!el) return null; el.scrollIntoView({block: 'center'});
  const r = el.getBoundingClientRect(); return {x: r.x + r.width / 2, y: r.y + r.height / 2}; })
"""


class Page:
    """One tab of a headless Chromium, attached over the DevTools pipe."""

    def __init__(self, browser: Chromium, session_id: str) -> None:
        self._browser = browser
        self._session = session_id

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self._browser.send(method, params, session_id=self._session)

    async def goto(self, url: str) -> None:
        await self.send("Page.navigate", {"url": url})

    async def evaluate(self, expression: str) -> Any:
        answer = await self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in answer:
            raise BrowserError(f"script failed: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    async def text(self) -> str:
        return str(await self.evaluate("document.body ? document.body.innerText : ''"))

    async def _poll(self, script: str, seconds: float) -> Any:
        """The script's first truthy answer, asked every quarter second for `seconds`."""
        for _ in range(max(1, int(seconds / _POLL_SECONDS))):
            answer = await self.evaluate(script)
            if answer:
                return answer
            await asyncio.sleep(_POLL_SECONDS)
        return None

    async def holds(self, script: str, seconds: float = 10) -> bool:
        """Whether the script answers truthy within `seconds` (the UI updates after a click)."""
        return bool(await self._poll(script, seconds))

    async def wait_for_text(self, wanted: str, seconds: float = 30) -> None:
        script = f"(document.body ? document.body.innerText : '').includes({json.dumps(wanted)})"
        if not await self._poll(script, seconds):
            raise BrowserError(f"{wanted!r} never showed on the page:\n{await self.text()}")

    async def click(self, label: str, *, scope: str | None = None, seconds: float = 30) -> None:
        """Click the enabled element showing `label`, waiting for it to appear."""
        script = f"{_FIND_BY_LABEL}({json.dumps([label, scope])})"
        if not await self._poll(
            f"(() => {{ const f = {script}; return f && !f.disabled; }})()", seconds
        ):
            raise BrowserError(f"no enabled {label!r} on the page:\n{await self.text()}")
        await asyncio.sleep(0.2)  # menus and dialogs animate in: aim where it came to rest
        found = await self.evaluate(script)
        await self._mouse_click(found["x"], found["y"])

    async def click_selector(self, selector: str, seconds: float = 15) -> None:
        """Click the visible element `selector` finds (a control whose label is not its text)."""
        script = (
            f"{_VISIBLE_CENTRE}([...document.querySelectorAll({json.dumps(selector)})]"
            ".filter((e) => e.getBoundingClientRect().width > 0).pop())"
        )
        found = await self._poll(script, seconds)
        if not found:
            raise BrowserError(f"no {selector} on the page:\n{await self.text()}")
        await self._mouse_click(found["x"], found["y"])

    async def click_option_starting(self, prefix: str, seconds: float = 15) -> None:
        """Click the visible option of an open list whose text starts with `prefix` (followed
        by a non-digit or the end), e.g. an event id in a list of events."""
        script = (
            f"{_VISIBLE_CENTRE}([...document.querySelectorAll('[role=option]')].filter((e) =>"
            " e.getBoundingClientRect().width > 0 && new RegExp("
            f"'^' + {json.dumps(prefix)} + '(\\\\D|$)').test((e.innerText || '').trim())).pop())"
        )
        found = await self._poll(script, seconds)
        if not found:
            options = await self.evaluate(
                "[...document.querySelectorAll('[role=option]')].map((e) => e.innerText)"
            )
            raise BrowserError(f"no option starting {prefix!r} among {options}")
        await self._mouse_click(found["x"], found["y"])

    async def _mouse_click(self, x: float, y: float) -> None:
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            await self.send(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1},
            )

    async def type(self, selector: str, text: str) -> None:
        """Click into the (empty) field and type `text` as keystrokes would insert it."""
        await self.click_selector(selector)
        await self.send("Input.insertText", {"text": text})

    async def screenshot(self, path: Path, clip: dict[str, float] | None = None) -> None:
        """A PNG of the viewport, or of `clip` ({x, y, width, height, scale}) to keep it small."""
        params: dict[str, Any] = {"format": "png"}
        if clip is not None:
            params["clip"] = {"scale": 1.0, **clip}
        shot = await self.send("Page.captureScreenshot", params)
        await asyncio.to_thread(path.write_bytes, base64.b64decode(shot["data"]))


class Chromium:
    """Headless Chromium with the DevTools protocol on a pipe; `open()` starts and stops it."""

    def __init__(
        self, process: asyncio.subprocess.Process, reader: asyncio.StreamReader, writer: Any
    ) -> None:
        self._process = process
        self._reader = reader
        self._writer = writer
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._pump = asyncio.create_task(self._read_messages())

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, profile: Path) -> AsyncIterator[Chromium]:
        assert CHROMIUM is not None, "no chromium"
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()
        # The browser reads commands on fd 3 and writes answers on fd 4: the pipes are handed
        # over as stdin and stdout and moved there by the shell.
        process = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            'exec "$0" "$@" 3<&0 4>&1 </dev/null >/dev/null',
            CHROMIUM,
            *_FLAGS,
            f"--user-data-dir={profile}",
            "--remote-debugging-pipe",
            "about:blank",
            stdin=to_browser_r,
            stdout=from_browser_w,
            stderr=asyncio.subprocess.DEVNULL,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(from_browser_r, "rb", 0)
        )
        transport, _ = await loop.connect_write_pipe(
            asyncio.Protocol, os.fdopen(to_browser_w, "wb", 0)
        )
        browser = cls(process, reader, transport)
        try:
            yield browser
        finally:
            await browser._close()

    async def _read_messages(self) -> None:
        while True:
            try:
                raw = await self._reader.readuntil(b"\0")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                break
            message = json.loads(raw[:-1])
            waiting = self._pending.pop(message.get("id", -1), None)
            if waiting is not None and not waiting.done():
                if "error" in message:
                    waiting.set_exception(BrowserError(str(message["error"])))
                else:
                    waiting.set_result(message.get("result", {}))
        for waiting in self._pending.values():
            if not waiting.done():
                waiting.set_exception(BrowserError("chromium closed the DevTools pipe"))

    async def send(
        self, method: str, params: dict[str, Any] | None = None, *, session_id: str | None = None
    ) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session_id:
            message["sessionId"] = session_id
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[self._next_id] = answer
        self._writer.write(json.dumps(message).encode() + b"\0")
        async with asyncio.timeout(60):
            return await answer

    async def new_page(self) -> Page:
        created = await self.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.send(
            "Target.attachToTarget", {"targetId": created["targetId"], "flatten": True}
        )
        page = Page(self, attached["sessionId"])
        await page.send("Page.enable")
        await page.send("Runtime.enable")
        return page

    async def _close(self) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                await self.send("Browser.close")
        with contextlib.suppress(ProcessLookupError):
            self._process.terminate()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(10):
                await self._process.wait()
        if self._process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
            await self._process.wait()
        self._writer.close()
        self._pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._pump
