"""Headless Chromium driven over the DevTools protocol (websocket-client), for tests/test_walk_html.py.

`Browser(width)` starts Chromium on a free debugging port with a fresh profile, opens one tab and
records, from the first command on, every console error, uncaught exception, log error (a CSP
violation is one) and every network request the page makes.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import websocket

from engines_support import CHROMIUM, CHROMIUM_FLAGS, OVERFLOW_PROBE

KEYS = {"ArrowRight": 39, "ArrowLeft": 37, "Home": 36, "End": 35, "Tab": 9, "Enter": 13}
TEXT = {"Enter": "\r", "Tab": "\t"}  # keys that type a character are sent as keyDown with their text


class Browser:
    def __init__(self, width: int = 1280, height: int = 900):
        self.profile = tempfile.TemporaryDirectory(prefix="bptrace-cdp-", ignore_cleanup_errors=True)
        self.proc = subprocess.Popen(  # its own process group: close() ends its helpers (renderer, crashpad) too
            [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile.name}", "--remote-debugging-port=0",
             f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, start_new_session=True)
        port = self._port()
        tabs = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        page = next(t for t in tabs if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        self.ids = itertools.count(1)
        self.errors: list[str] = []
        self.requests: list[str] = []  # every URL the page asked for (even one its policy then blocked)
        self.blocked: dict[str, str] = {}  # URL -> why it was blocked (csp, …)
        self._urls: dict[str, str] = {}
        for domain in ("Runtime", "Log", "Network", "Page"):
            self.send(f"{domain}.enable")
        self.resize(width, height)

    def _port(self) -> int:
        marker = Path(self.profile.name) / "DevToolsActivePort"
        for _ in range(300):
            if marker.exists() and marker.read_text().strip():
                return int(marker.read_text().split()[0])
            time.sleep(0.05)
        raise RuntimeError("chromium did not open its debugging port")

    def _event(self, msg: dict) -> None:
        method, p = msg.get("method"), msg.get("params", {})
        if method == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
            self.errors.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
        elif method == "Runtime.exceptionThrown":
            self.errors.append("exception: " + json.dumps(p["exceptionDetails"])[:500])
        elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
            self.errors.append("log: " + p["entry"]["text"])
        elif method == "Network.requestWillBeSent":
            self.requests.append(p["request"]["url"])
            self._urls[p["requestId"]] = p["request"]["url"]
        elif method == "Network.loadingFailed" and p.get("blockedReason"):
            self.blocked[self._urls.get(p["requestId"], "?")] = p["blockedReason"]

    def send(self, method: str, **params):
        n = next(self.ids)
        self.ws.send(json.dumps({"id": n, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == n:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._event(msg)

    def resize(self, width: int, height: int = 900) -> None:
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    def open(self, page: Path) -> None:
        self.send("Page.navigate", url=page.as_uri())
        for _ in range(200):
            if self.js("document.readyState") == "complete":
                return
            time.sleep(0.05)
        raise RuntimeError("the page did not finish loading")

    def js(self, expression: str):
        r = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def key(self, key: str, times: int = 1) -> None:
        for _ in range(times):
            down = {"type": "keyDown", "text": TEXT[key]} if key in TEXT else {"type": "rawKeyDown"}
            for event in (down, {"type": "keyUp"}):
                self.send("Input.dispatchKeyEvent", **event, key=key, code=key,
                          windowsVirtualKeyCode=KEYS[key], nativeVirtualKeyCode=KEYS[key])

    def overflow(self) -> list[dict]:
        """tests/engines_support.py's overflow probe, run in the page (the page's CSP would block it
        as a <script>; the DevTools protocol is not subject to it)."""
        probe = OVERFLOW_PROBE.strip().removeprefix("<script>").removesuffix("</script>").strip()
        probe = probe.replace('window.addEventListener("load", () => {', "(() => {", 1)
        assert probe.endswith("});"), "the overflow probe changed shape"
        self.js(probe[:-3] + "})();")
        report = self.js('(() => { const r = document.getElementById("bptrace-overflow-report"); '
                         'const t = r.textContent; r.remove(); return t; })()')
        return json.loads(report)

    def screenshot(self, png: Path) -> Path:
        height = self.js("Math.ceil(document.body.getBoundingClientRect().bottom) + 12")
        r = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                      clip={"x": 0, "y": 0, "width": self.js("document.documentElement.clientWidth"),
                            "height": min(height, 4000), "scale": 1})
        png.write_bytes(base64.b64decode(r["data"]))
        return png

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait(10)
            self._signal(signal.SIGKILL)  # a helper that outlived the browser would still write to the profile
            for _ in range(20):  # then the profile goes (a last file may land as it is removed: try again)
                shutil.rmtree(self.profile.name, ignore_errors=True)
                if not os.path.exists(self.profile.name):
                    break
                time.sleep(0.1)
            self.profile.cleanup()

    def _signal(self, sig) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
