#!/usr/bin/env python3
"""Headless Chromium driven through ChromeDriver (W3C WebDriver, standard library only) for the
password-form tests: what a user of a PC outside the domain does.

  browser.py form --url URL --user NAME --password PW [--wrong N] [--spki HASH] [--map HOST]
      opens URL (the SP's protected page), expects the gateway's form, submits N wrong passwords
      (each must show the form again), then the right one, and prints JSON {"messages": [the
      form's alert after each wrong one], "final": the page text at the end, "url": its URL}.
  browser.py axe --url URL --axe FILE [--spki HASH] [--map HOST]
      opens URL and runs axe-core (FILE: axe.min.js) on it with the WCAG 2 A/AA rules; prints
      JSON {"violations": [...], "passes": N}; the keyboard check: Tab reaches the user name, the
      password and the button in that order.

Exit 1 with the reason on stderr when a step fails.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


class Driver:
    def __init__(self, args):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.profile = tempfile.mkdtemp(prefix="iwa-webdriver-")
        self.proc = subprocess.Popen(
            [CHROMEDRIVER, f"--port={self.port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                self.call("GET", "/status")
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.05)
        chrome_args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            f"--user-data-dir={self.profile}",
            "--window-size=1024,768",
        ]
        if args.map:
            chrome_args.append(f"--host-resolver-rules=MAP {args.map} 127.0.0.1")
        if args.spki:
            chrome_args.append(f"--ignore-certificate-errors-spki-list={args.spki}")
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": CHROMIUM, "args": chrome_args}}}}
        self.session = self.call("POST", "/session", caps)["sessionId"]

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.loads(r.read() or b"{}").get("value")
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"webdriver {method} {path}: {e.read().decode(errors='replace')}")

    def s(self, method, path, body=None):
        return self.call(method, f"/session/{self.session}{path}", body)

    def go(self, url):
        self.s("POST", "/url", {"url": url})

    def find(self, css):
        found = self.s("POST", "/elements", {"using": "css selector", "value": css})
        return found[0][ELEMENT] if found else None

    def wait_for(self, css, timeout=15):
        end = time.time() + timeout
        while time.time() < end:
            el = self.find(css)
            if el:
                return el
            time.sleep(0.1)
        raise RuntimeError(f"no `{css}` in {self.url()}: {self.text()[:2000]}")

    def submit(self):
        """Clicks the submit button and waits for the next page to load."""
        self.script("window.__iwaOld = 1;")
        self.s("POST", f"/element/{self.find('button[type=submit]')}/click", {})
        end = time.time() + 15
        while time.time() < end:
            try:
                if self.script("return window.__iwaOld === undefined && document.readyState === 'complete';"):
                    return
            except RuntimeError:
                pass  # between two documents
            time.sleep(0.05)
        raise RuntimeError(f"no new page after submitting at {self.url()}")

    def type(self, el, text):
        self.s("POST", f"/element/{el}/clear", {})
        self.s("POST", f"/element/{el}/value", {"text": text})

    def text(self):
        return self.script("return document.body ? document.body.innerText : ''")

    def url(self):
        return self.s("GET", "/url")

    def script(self, js, *args):
        return self.s("POST", "/execute/sync", {"script": js, "args": list(args)})

    def close(self):
        try:
            self.s("DELETE", "")
        finally:
            self.proc.kill()


def form(d, args):
    d.go(args.url)
    out = {"messages": []}
    for i in range(args.wrong):
        d.type(d.wait_for("#username"), args.user)
        d.type(d.find("#password"), f"wrong-password-{i}")
        d.submit()
        alert = d.wait_for("[role=alert]")
        out["messages"].append(d.s("GET", f"/element/{alert}/text"))
    if args.password is not None:
        d.type(d.wait_for("#username"), args.user)
        d.type(d.find("#password"), args.password)
        d.submit()
        # The hand-off page's script posts on to the SP.
        end = time.time() + 15
        while time.time() < end and "/saml/" in d.url():
            time.sleep(0.1)
    out["final"] = d.text()
    out["url"] = d.url()
    return out


def axe(d, args):
    d.go(args.url)
    d.wait_for("#username")
    with open(args.axe, encoding="utf-8") as f:
        d.script(f.read() + "\nreturn true;")
    result = d.call(
        "POST",
        f"/session/{d.session}/execute/async",
        {
            "script": "const done = arguments[arguments.length - 1];"
            "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
            ".then(r => done({violations: r.violations.map(v => ({id: v.id, impact: v.impact,"
            " help: v.help, nodes: v.nodes.map(n => n.html)})), passes: r.passes.length}))"
            ".catch(e => done({error: String(e)}));",
            "args": [],
        },
    )
    # Keyboard: Tab from the page start reaches the fields and the button in order.
    order = []
    d.script("document.activeElement && document.activeElement.blur(); window.focus();")
    for _ in range(3):
        d.s("POST", "/actions", {"actions": [{"type": "key", "id": "kb", "actions": [
            {"type": "keyDown", "value": "\ue004"}, {"type": "keyUp", "value": "\ue004"}]}]})
        order.append(d.script("const e = document.activeElement; return e ? (e.id || e.tagName.toLowerCase()) : '';"))
    result["tab_order"] = order
    return result


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("form")
    f.add_argument("--url", required=True)
    f.add_argument("--user", required=True)
    f.add_argument("--password")
    f.add_argument("--wrong", type=int, default=0)
    a = sub.add_parser("axe")
    a.add_argument("--url", required=True)
    a.add_argument("--axe", required=True)
    for s in (f, a):
        s.add_argument("--spki")
        s.add_argument("--map")
    args = p.parse_args()
    d = Driver(args)
    try:
        out = form(d, args) if args.cmd == "form" else axe(d, args)
    except Exception as e:
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    finally:
        d.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
