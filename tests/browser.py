"""Headless Chromium for the tests that stand for a person's eyes: open a file at a window size,
run JavaScript in it and read the result back, click where a person clicks, take a screenshot,
and see every request the page made. And Mermaid's own script, to render a flowchart as GitHub
does (``mermaid_script``; ``python tests/browser.py install-mermaid FOLDER`` fetches it ahead).

The browser is driven through the DevTools protocol over ``--remote-debugging-pipe`` (messages
are JSON, each ended by a NUL byte, read from the browser's fd 4 and written to its fd 3), so
the standard library is all it takes. Every wait has a deadline. Tests skip where no Chromium
is installed (``find_chromium``); ``CONVCALC_CHROMIUM`` names another executable.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

#: how the browser is started: headless, nothing of its own fetched, and every host name
#: resolving to nothing, so a page that reaches for the network fails to load it
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)
#: seconds any one exchange with the browser may take (a page load included)
TIMEOUT = 30.0
#: schemes a self-contained page may load from (itself, and what its own script makes)
LOCAL_SCHEMES = ("data:", "blob:", "about:")


#: the mermaid npm package whose self-contained bundle renders the flowcharts
MERMAID_VERSION = "12.4.0"
MERMAID_BUNDLE = "package/dist/mermaid.min.js"


class BrowserError(RuntimeError):
    """The browser did not answer in time, answered with an error, or a script threw."""


def find_chromium() -> str | None:
    """The Chromium executable, or None where none is installed."""
    named = os.environ.get("CONVCALC_CHROMIUM")
    if named:
        return named if Path(named).exists() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


#: run by the child: its pipe ends to fds 3 and 4, where the browser looks for them, then exec
_AS_FD_3_AND_4 = (
    "import os, sys\n"
    "os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4)\n"
    "os.close(int(sys.argv[1])); os.close(int(sys.argv[2]))\n"
    "os.execv(sys.argv[3], sys.argv[3:])\n"
)


def _high(fd: int) -> int:
    """``fd`` moved to a number of 10 or more (closed on exec)."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class Chromium:
    """One headless browser process; pages are opened with ``page()``. Use it as a context
    manager: the process and its profile folder are removed on exit."""

    def __init__(self, executable: str, timeout: float = TIMEOUT) -> None:
        self.timeout = timeout
        self._profile = tempfile.mkdtemp(prefix="convcalc-chromium-")
        # the child's ends are moved above 4 first, so that putting them at 3 and 4 cannot
        # overwrite one with the other; a fresh Python puts them there and becomes the browser
        to_browser, self._write_fd = (_high(fd) for fd in os.pipe())
        self._read_fd, from_browser = (_high(fd) for fd in os.pipe())
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _AS_FD_3_AND_4,
                str(to_browser),
                str(from_browser),
                executable,
                *FLAGS,
                f"--user-data-dir={self._profile}",
                "--remote-debugging-pipe",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(to_browser, from_browser),
        )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._next_id = 0
        #: events received while waiting for something else: (session, method, params)
        self.events: list[tuple[str | None, str, dict[str, Any]]] = []
        try:
            self.send("Browser.getVersion")
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self._post("Browser.close", {}, None)
                self.process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(timeout=5)
        for fd in (self._write_fd, self._read_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self._profile, ignore_errors=True)

    # the protocol

    def _post(self, method: str, params: dict[str, Any], session: str | None) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._write_fd, data) :]
        return self._next_id

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("the browser did not answer in time")
            ready, _, _ = select.select([self._read_fd], [], [], left)
            if ready:
                chunk = os.read(self._read_fd, 1 << 20)
                if not chunk:
                    raise BrowserError(f"the browser exited (code {self.process.poll()})")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)  # type: ignore[no-any-return]

    def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        """Call a protocol method and return its result; events that arrive meanwhile are
        kept in ``events``."""
        wanted = self._post(method, params or {}, session)
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._receive(deadline)
            if message.get("id") == wanted:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error'].get('message')}")
                return message.get("result", {})  # type: ignore[no-any-return]
            if "method" in message:
                self.events.append(
                    (message.get("sessionId"), message["method"], message.get("params", {}))
                )

    def wait_event(self, method: str, session: str | None) -> dict[str, Any]:
        """The first event ``method`` of ``session`` (taken out of ``events``)."""
        deadline = time.monotonic() + self.timeout
        while True:
            for i, (sid, name, params) in enumerate(self.events):
                if sid == session and name == method:
                    del self.events[i]
                    return params
            message = self._receive(deadline)
            if "method" in message:
                self.events.append(
                    (message.get("sessionId"), message["method"], message.get("params", {}))
                )

    def page(self, width: int, height: int) -> Page:
        """A new tab whose viewport is ``width`` × ``height`` CSS pixels at 100 % zoom."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        page = Page(self, target, session)
        page.resize(width, height)
        for domain in ("Page", "Runtime", "Network"):
            self.send(f"{domain}.enable", {}, session)
        return page


class Page:
    """One tab. ``requests`` lists every URL it asked for, ``failed`` those that failed,
    ``errors`` the exceptions its scripts threw."""

    def __init__(self, browser: Chromium, target: str, session: str) -> None:
        self.browser = browser
        self.target = target
        self.session = session

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.send(method, params, self.session)

    def _events(self, method: str) -> list[dict[str, Any]]:
        return [p for sid, name, p in self.browser.events if sid == self.session and name == method]

    @property
    def requests(self) -> list[str]:
        return [e["request"]["url"] for e in self._events("Network.requestWillBeSent")]

    @property
    def failed(self) -> list[str]:
        return [e.get("errorText", "") for e in self._events("Network.loadingFailed")]

    @property
    def errors(self) -> list[str]:
        return [
            e["exceptionDetails"].get("exception", {}).get("description")
            or e["exceptionDetails"].get("text", "")
            for e in self._events("Runtime.exceptionThrown")
        ]

    def outside_requests(self, own: str) -> list[str]:
        """The requests for anything but the page ``own`` itself and what its scripts make."""
        return [url for url in self.requests if url != own and not url.startswith(LOCAL_SCHEMES)]

    def resize(self, width: int, height: int) -> None:
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def goto(self, url: str) -> None:
        """Load ``url`` and wait for its load event."""
        self.browser.events = [e for e in self.browser.events if e[0] != self.session]
        result = self.send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise BrowserError(f"{url}: {result['errorText']}")
        self.browser.wait_event("Page.loadEventFired", self.session)

    def open(self, path: Path) -> str:
        """Load a local file; its file:// URL."""
        url = path.resolve().as_uri()
        self.goto(url)
        return url

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (a promise is awaited), as JSON makes it."""
        result = self.send(
            "Runtime.evaluate",
            {
                "expression": expression,
                "returnByValue": True,
                "awaitPromise": True,
                "timeout": int(self.browser.timeout * 1000),
            },
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"the script threw: {text}")
        return result["result"].get("value")

    def click(self, x: float, y: float) -> None:
        """A left click at (x, y) of the viewport, as the mouse makes it."""
        self.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})
        for kind in ("mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": x, "y": y, "button": "left", "buttons": 1, "clickCount": 1},
            )

    def drag(self, x: float, y: float, dx: float, dy: float, steps: int = 5) -> None:
        """Press the left button at (x, y), move by (dx, dy) in ``steps`` and release."""
        self.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})
        self.send(
            "Input.dispatchMouseEvent",
            {
                "type": "mousePressed",
                "x": x,
                "y": y,
                "button": "left",
                "buttons": 1,
                "clickCount": 1,
            },
        )
        for step in range(1, steps + 1):
            at = {"x": x + dx * step / steps, "y": y + dy * step / steps}
            self.send(
                "Input.dispatchMouseEvent",
                {"type": "mouseMoved", **at, "button": "left", "buttons": 1},
            )
        self.send(
            "Input.dispatchMouseEvent",
            {
                "type": "mouseReleased",
                "x": x + dx,
                "y": y + dy,
                "button": "left",
                "buttons": 0,
                "clickCount": 1,
            },
        )

    def screenshot(self, path: Path) -> Path:
        """The viewport as a PNG file."""
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        self.browser.send("Target.closeTarget", {"targetId": self.target})


def mermaid_script(folder: Path, timeout: float = 120.0) -> Path | None:
    """``mermaid.min.js`` of MERMAID_VERSION in ``folder``, fetched from the npm registry with
    ``npm pack`` the first time (the bundle holds everything it needs, so the package's own
    dependencies are not installed); None where npm is missing or the registry cannot be
    reached in time."""
    script = folder / f"mermaid-{MERMAID_VERSION}" / "mermaid.min.js"
    if script.is_file():
        return script
    npm = shutil.which("npm")
    if npm is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as work:
        try:
            packed = subprocess.run(
                [
                    npm,
                    "pack",
                    "--silent",
                    "--fetch-retries=1",
                    "--fetch-timeout=30000",
                    f"mermaid@{MERMAID_VERSION}",
                ],
                cwd=work,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=True,
            ).stdout.split()
        except (OSError, subprocess.SubprocessError):
            return None
        if not packed:
            return None
        with tarfile.open(Path(work) / packed[-1]) as archive:
            member = archive.extractfile(MERMAID_BUNDLE)
            if member is None:
                return None
            bundle = member.read()
        script.parent.mkdir(parents=True, exist_ok=True)
        partial = script.with_suffix(".part")
        partial.write_bytes(bundle)
        partial.replace(script)  # whole or not at all, for a run that is stopped halfway
    return script


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "install-mermaid":
        sys.exit("usage: python tests/browser.py install-mermaid FOLDER")
    found = mermaid_script(Path(sys.argv[2]))
    print(f"mermaid {MERMAID_VERSION}: {found or 'not installed'}")
    sys.exit(0 if found else 1)
