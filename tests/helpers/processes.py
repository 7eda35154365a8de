"""Running the production layout for real: `fieldguide serve` and `fieldguide push-worker`
processes started from the systemd units and environment file in deploy/, as docs/deployment.md
enables them, each with its own log; killed, restarted and waited on.

- deployment_layout(): the app and push instances the docs' `systemctl enable` line starts.
- unit_command(unit, instance) / unit_environment(unit, site): what systemd would run.
- Site: the processes of one layout on one database; start(), kill(), restart(), logs().
"""

from __future__ import annotations

import base64
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric import ec

from server.ledger_signing import new_raw_key
from server.settings import ROOT

from .browser import free_port

DEPLOY = ROOT / "deploy"
APP_UNIT = DEPLOY / "systemd" / "fieldguide@.service"
PUSH_UNIT = DEPLOY / "systemd" / "fieldguide-push@.service"
ENV_EXAMPLE = DEPLOY / "fieldguide.env.example"
NGINX = DEPLOY / "nginx" / "fieldguide.conf"
DOCS = ROOT / "docs" / "deployment.md"
FIELDGUIDE = Path(sys.executable).parent / "fieldguide"
# The settings a site changes in its copy of the environment file; a test sets these, and only
# these, to its own values (anything else it adds is a test knob, named in TEST_KNOBS).
SITE_SPECIFIC = {
    "FIELDGUIDE_DATABASE_URL",
    "FIELDGUIDE_BASE_URL",
    "FIELDGUIDE_VAPID_SUBJECT",
    "FIELDGUIDE_VAPID_PRIVATE_KEY",
    "FIELDGUIDE_LEDGER_SIGNING_KEY",
    "FIELDGUIDE_DATA_DIR",
}
# Faster than production so a test takes seconds: the loopback push stand-in, short polls and leases.
TEST_KNOBS = {
    "FIELDGUIDE_PUSH_EXTRA_HOSTS",
    "FIELDGUIDE_PUSH_POLL_MS",
    "FIELDGUIDE_PUSH_LEASE_SECONDS",
    "FIELDGUIDE_PUSH_RETRY_BASE_MS",
    "FIELDGUIDE_PUSH_CONCURRENCY",
}
READY_TIMEOUT = 60.0


def new_vapid_key() -> str:
    """A site's VAPID private key as the environment file holds it: the raw 32 bytes, base64url."""
    value = ec.generate_private_key(ec.SECP256R1()).private_numbers().private_value
    return base64.urlsafe_b64encode(value.to_bytes(32, "big")).rstrip(b"=").decode()


def new_ledger_key() -> str:
    """A site's ledger signing key as the environment file holds it: the raw 32 bytes, base64url."""
    return new_raw_key()


def read_unit(path: Path) -> dict[str, list[str]]:
    """A systemd unit's [Service] keys, each with every value it is given (in order)."""
    keys: dict[str, list[str]] = {}
    section = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]":
            name, _, value = line.partition("=")
            keys.setdefault(name.strip(), []).append(value.strip())
    return keys


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of an environment file as systemd's EnvironmentFile= reads them."""
    values = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip().strip('"')
    return values


def unit_command(unit: Path, instance: str) -> list[str]:
    """The unit's ExecStart for an instance, with its `fieldguide` the one installed beside this Python."""
    (exec_start,) = read_unit(unit)["ExecStart"]
    argv = shlex.split(exec_start.replace("%i", instance))
    assert Path(argv[0]).name == "fieldguide", f"{unit.name} does not run fieldguide: {exec_start}"
    return [str(FIELDGUIDE), *argv[1:]]


def unit_environment(unit: Path, site: dict[str, str]) -> dict[str, str]:
    """What the unit's process sees: the environment file example, the unit's Environment=, then site values."""
    unknown = set(site) - SITE_SPECIFIC - TEST_KNOBS
    assert not unknown, f"only site-specific settings and test knobs may differ from deploy/: {unknown}"
    keys = read_unit(unit)
    assert keys.get("EnvironmentFile"), f"{unit.name} reads no environment file"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDGUIDE_")}
    env.update(read_env_file(ENV_EXAMPLE))
    for value in keys.get("Environment", []):
        for assignment in shlex.split(value):
            name, _, setting = assignment.partition("=")
            env[name] = setting
    env.update(site)
    return env


def deployment_layout() -> tuple[list[str], list[str]]:
    """The app instances (ports) and push instances that docs/deployment.md enables."""
    match = re.search(r"^systemctl enable --now (.+)$", DOCS.read_text(), re.MULTILINE)
    assert match, "docs/deployment.md has no `systemctl enable --now ...` line"
    units = match.group(1).split()
    apps = [u.split("@", 1)[1] for u in units if u.startswith("fieldguide@")]
    pushes = [u.split("@", 1)[1] for u in units if u.startswith("fieldguide-push@")]
    return apps, pushes


def nginx_upstream_ports() -> list[str]:
    """The ports the proxy example sends requests to."""
    block = re.search(r"upstream fieldguide \{(.*?)\}", NGINX.read_text(), re.DOTALL)
    assert block, "deploy/nginx/fieldguide.conf has no upstream fieldguide block"
    return re.findall(r"server 127\.0\.0\.1:(\d+)", block.group(1))


@dataclass
class Process:
    """One unit instance run as a subprocess, its output in a log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    url: str | None = None
    popen: subprocess.Popen | None = None
    starts: int = 0

    def start(self) -> Process:
        """Start it (again); returns at once (see wait_ready)."""
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"--- start {self.starts}: {shlex.join(self.argv)}\n".encode())
            log.flush()
            self.popen = subprocess.Popen(
                self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        return self

    def log(self) -> str:
        """Everything it printed, across restarts."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Wait until a server answers /sign-in, or a worker prints that it started."""
        deadline = time.monotonic() + timeout
        marker = f"--- start {self.starts}:"
        while True:
            if self.url is not None:
                try:
                    if httpx.get(self.url + "/sign-in", timeout=2).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
            elif "Push worker started" in self.log().rsplit(marker, 1)[-1]:
                return
            if not self.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not become ready:\n{self.log()[-4000:]}")
            time.sleep(0.1)

    def kill(self, sig: int = signal.SIGKILL) -> int:
        """Send a signal and wait for the process to end; its exit status."""
        assert self.popen is not None
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        return self.popen.wait(30)

    def stop(self) -> None:
        """SIGTERM, as systemd stops it; SIGKILL after 30 s as its TimeoutStopSec would."""
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            self.popen.wait(30)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


@dataclass
class Site:
    """The layout's processes on one database: servers (one per app instance) and push workers."""

    folder: Path
    site: dict[str, str]
    servers: list[Process] = field(default_factory=list)
    workers: list[Process] = field(default_factory=list)

    @classmethod
    def from_docs(cls, folder: Path, site: dict[str, str]) -> Site:
        """The processes docs/deployment.md enables, each app instance on a free port instead of its own."""
        apps, pushes = deployment_layout()
        made = cls(folder, site)
        for _ in apps:
            port = str(free_port())
            made.servers.append(
                Process(f"fieldguide@{port}", unit_command(APP_UNIT, port), unit_environment(APP_UNIT, site),
                        folder / f"fieldguide@{port}.log", url=f"http://127.0.0.1:{port}")
            )
        for instance in pushes:
            made.workers.append(
                Process(f"fieldguide-push@{instance}", unit_command(PUSH_UNIT, instance),
                        unit_environment(PUSH_UNIT, site), folder / f"fieldguide-push@{instance}.log")
            )
        return made

    @property
    def processes(self) -> list[Process]:
        return self.servers + self.workers

    def start_servers(self) -> None:
        """Start every server at once, then wait until each answers."""
        for process in self.servers:
            process.start()
        for process in self.servers:
            process.wait_ready()

    def start_workers(self) -> None:
        """Start every push worker, then wait until each has started."""
        for process in self.workers:
            process.start()
        for process in self.workers:
            process.wait_ready()

    def restart(self, process: Process) -> None:
        """Start a process that ended again, as systemd's Restart= does, and wait until it is ready."""
        assert not process.alive()
        process.start()
        process.wait_ready()

    def logs(self) -> str:
        """Every process's log, for a failure report."""
        return "\n".join(f"===== {p.name} =====\n{p.log()[-6000:]}" for p in self.processes)

    def stop(self) -> None:
        """Stop every process."""
        for process in self.processes:
            process.stop()
