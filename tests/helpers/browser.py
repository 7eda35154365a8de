"""Driving the app in a real browser: the app in a uvicorn subprocess, and Chromium pages.

- start_server(data_dir, settings): the real app on a free 127.0.0.1 port, a LiveServer with
  .url, .data_dir and .run(coroutine function) to work on its database from the test (e.g.
  publish a release the way the admin's publish does).
- sign_in(page, url, email): signs in through the real form.
- wait_offline_ready(page, release): waits, with a timeout, until the service worker
  controls the page and holds that release whole; poll(page, script) waits for any async check.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from server import bootstrap, db
from server.settings import ROOT, Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
ARTIFACTS = ROOT / "artifacts"
READY_TIMEOUT_MS = 20_000


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    """The app running in a subprocess on its own database."""

    url: str
    data_dir: Path
    process: subprocess.Popen
    log: object

    def stop(self) -> None:
        """End the server process and close its log."""
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()

    def run(self, work, *args, **kwargs):
        """Run `await work(*args, **kwargs)` on the server's database, in a thread with its own loop."""
        result: dict = {}

        async def session():
            await db.open_db(Settings(data_dir=self.data_dir))
            try:
                return await work(*args, **kwargs)
            finally:
                await db.close_db()

        def target():
            try:
                result["value"] = asyncio.run(session())
            except BaseException as exc:  # handed to the test's thread below
                result["error"] = exc

        thread = threading.Thread(target=target)
        thread.start()
        thread.join(60)
        if thread.is_alive():
            raise TimeoutError(f"{work.__name__} did not finish within 60 s")
        if "error" in result:
            raise result["error"]
        return result.get("value")


def start_server(data_dir: Path, settings: dict[str, str] | None = None) -> LiveServer:
    """Start uvicorn on a free port and wait (at most 20 s) until it answers; `settings`: extra FIELDGUIDE_* variables."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDGUIDE_")}
    env["FIELDGUIDE_DATA_DIR"] = str(data_dir)
    env.update(settings or {})
    log = open(data_dir / "server.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "server.app:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(url + "/sign-in", timeout=1).status_code == 200:
                return LiveServer(url, data_dir, process, log)
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            LiveServer(url, data_dir, process, log).stop()
            output = (data_dir / "server.log").read_text(errors="replace")
            raise RuntimeError(f"the app did not start:\n{output}")
        time.sleep(0.1)


def sign_in(page, url: str, email: str = "officer@demo.test", password: str = bootstrap.DEMO_PASSWORD) -> None:
    """Sign in through the real form and wait for the page it leads to."""
    page.goto(url + "/sign-in")
    page.fill("#email", email)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("form.stack button[type=submit]")


def poll(page, script: str, arg=None, timeout_ms: int = READY_TIMEOUT_MS, expect=True):
    """Evaluate an (async) script every 100 ms until it returns `expect`; its last value.

    page.wait_for_function does not wait for a promise, so async checks poll here.
    """
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        value = page.evaluate(script, arg)
        if value == expect:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"still {value!r} after {timeout_ms} ms: {script}")
        page.wait_for_timeout(100)


def until(page, check, what: str = "condition", timeout: float = 20.0):
    """Poll check() until it is truthy (at most `timeout` seconds) and return its value.

    Waits through the page, so Playwright keeps delivering browser events (DevTools ones too).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        page.wait_for_timeout(100)


def worker_registration(page, cdp, origin: str) -> dict:
    """The live service-worker registration of `origin`, as the DevTools protocol reports it."""
    registrations: list[dict] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"]))
    cdp.send("ServiceWorker.enable")
    scope = origin + "/"
    return until(
        page,
        lambda: next((r for r in registrations if r["scopeURL"] == scope and not r["isDeleted"]), None),
        "the service worker registration",
    )


def wait_offline_ready(page, release: int, timeout_ms: int = READY_TIMEOUT_MS) -> None:
    """Wait until the worker controls the page and this phone holds release N whole."""
    poll(
        page,
        """async () => {
            if (!navigator.serviceWorker.controller || !self.fieldguideDb) return null;
            const saved = await self.fieldguideDb.get("meta", "release");
            return saved ? saved.number : null;
        }""",
        timeout_ms=timeout_ms,
        expect=release,
    )


def screenshot(page, name: str) -> Path:
    """Save a screenshot under artifacts/ (git-ignored) and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
