"""The HTML and SVG exports are self-contained: they name no web address but the XML namespaces,
and a browser opening them makes no network request (rich's SVG template loads Fira Code from a CDN)."""

import re
import socket
import threading
import xml.etree.ElementTree as ET

import pytest

from bptrace.cli import app
from engines_support import _chromium, ensure_chromium

NAMESPACES = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xhtml", "http://www.w3.org/1999/xlink"}
EXPORTS = [(["run"], "svg"), (["run"], "html"), (["run", "deep"], "svg"),
           (["step", "xor", "-n", "50", "--show", "1"], "html"), (["step", "blog", "-n", "5"], "svg")]


def _export(runner, tmp_path, args, ext):
    path = tmp_path / f"out.{ext}"
    result = runner.invoke(app, [*args, "--export", str(path)])
    assert result.exit_code == 0, result.output
    return path


@pytest.mark.slow  # moved out of the quick suite (issue 10); CI runs it
@pytest.mark.parametrize("args,ext", EXPORTS, ids=lambda v: "-".join(v) if isinstance(v, list) else v)
def test_exports_name_no_web_address(runner, tmp_path, args, ext):
    text = _export(runner, tmp_path, args, ext).read_text(encoding="utf-8")
    urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"'<>)]*", text))
    assert urls <= NAMESPACES, urls - NAMESPACES
    if ext == "svg":
        ET.fromstring(text)  # still well-formed XML


# Chromium's own background requests (network time, component updates), not the page's
BROWSER_OWN = ("clients2.google.com", "update.googleapis.com", "optimizationguide-pa.googleapis.com",
               "accounts.google.com", "safebrowsing.googleapis.com", "edgedl.me.gvt1.com")


def _host(request: bytes) -> str:
    """The host of a proxied request's first line: GET http://HOST/… or CONNECT HOST:443."""
    target = request.split(b" ")[1].decode("latin-1") if request.count(b" ") else ""
    return re.sub(r"^\w+://", "", target).split("/")[0].split(":")[0]


class _Proxy:
    """A listening socket standing in for the network: Chromium sends every http(s) request to it
    (--proxy-server), so any connection it accepts is a request the page made."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.requests: list[str] = []  # hosts
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    host = _host(conn.recv(300))
                except OSError:
                    host = "?"
                if host not in BROWSER_OWN:
                    self.requests.append(host)

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()


@pytest.mark.engines
@pytest.mark.parametrize("args,ext", EXPORTS[:2] + EXPORTS[3:4], ids=lambda v: "-".join(v) if isinstance(v, list) else v)
def test_browser_makes_no_request(runner, tmp_path, args, ext):
    ensure_chromium()
    page = _export(runner, tmp_path, args, ext)
    proxy = _Proxy()
    try:
        port = proxy.sock.getsockname()[1]
        done = _chromium([f"--proxy-server=http://127.0.0.1:{port}", "--proxy-bypass-list=<-loopback>",
                          "--virtual-time-budget=3000", "--dump-dom", page.as_uri()])
    finally:
        proxy.close()
    assert done.returncode == 0, done.stderr[-2000:]
    assert proxy.requests == []


@pytest.mark.engines
def test_the_proxy_sees_a_page_that_fetches(tmp_path):
    """The check above can fail: a page loading a web font is caught."""
    ensure_chromium()
    page = tmp_path / "fetches.html"
    page.write_text("<!DOCTYPE html><html><head><style>@font-face{font-family:X;"
                    "src:url('http://fonts.example.com/x.woff2')}body{font-family:X}</style></head>"
                    "<body>text</body></html>", encoding="utf-8")
    proxy = _Proxy()
    try:
        port = proxy.sock.getsockname()[1]
        _chromium([f"--proxy-server=http://127.0.0.1:{port}", "--virtual-time-budget=3000", "--dump-dom",
                   page.as_uri()])
    finally:
        proxy.close()
    assert proxy.requests == ["fonts.example.com"]


@pytest.mark.parametrize("args", [["run", "xor"], ["step", "xor", "-n", "30", "--show", "1"]], ids="-".join)
def test_html_rows_carry_no_padding(runner, tmp_path, args):
    """rich pads every row to the console's width (100): where preformatted text wraps (a narrow
    notebook cell), each padded row spills onto a blank-looking line between the table's rows."""
    import html

    text = _export(runner, tmp_path, args, "html").read_text(encoding="utf-8")
    rows = [html.unescape(re.sub(r"<[^>]+>", "", line))
            for pre in re.findall(r"<pre[^>]*>(.*?)</pre>", text, re.S) for line in pre.split("\n")]
    assert len(rows) > 50
    assert [r for r in rows if r.endswith(" ")] == []
    assert any(r.startswith(" z1 ") for r in rows)  # leading spaces (the columns) are kept
