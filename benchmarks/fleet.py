"""A state's fleet on PostgreSQL: 50,000 phones polling for releases, and a publish to all of them.

On a database of its own (made and dropped by the run) it puts one large agency with 50,000
officers in 1,000 schools (COPY): each with a session, a phone that holds release 1 and last
synced one poll ago, and a Web Push subscription (real P-256 keys from a pool of a few hundred
that the push-service stand-in holds). Then, with every part a process of its own, started as
docs/deployment.md describes (`fieldguide serve` with FIELDGUIDE_PUSH_WORKER=false, and
`fieldguide push-worker`):

1. Capacity: the most unchanged-client sync checks per second (GET /api/v1/sync answered
   304, each from another phone) that 1 and then 2 serve processes complete, against the
   fleet's need of devices / 300 s.
2. The fleet's steady load (benchmarks/fleet_devices.py: each phone checks every 300 s at its
   own phase), then a publish of release 2 (one card revised), whose transaction writes one
   push notice per subscription; 3 push workers send them to the stand-in
   (benchmarks/fleet_push_service.py: checks VAPID and encryption, answers in 20-50 ms). It
   times, from the commit, until every notice is accepted by the push service, and until
   every phone holds release 2. A phone syncs at once when its notice arrives (as the service
   worker's push handler does) or at its next poll, whichever comes first; `--poll-only`
   models phones that never hear the notice. A phone has the release when its 200 arrives
   (it then confirms with one more check, a 304, as docs/sync.md says). After `--give-up` seconds the run reports how far
   the notices and the fetches got, and the pace.

One agency rather than many: a single publish then reaches all 50,000 phones in one
transaction, the hardest case; a sync check costs the same whatever the number of agencies.

Each figure is printed with the load average when it was taken: the load generator, the
stand-in, the app processes, the workers and PostgreSQL all share the machine's cores.

    .venv/bin/python benchmarks/fleet.py [--quick] [--devices 50000] [--servers 2] [--workers 3]
        [--duration 30] [--give-up 360] [--poll-only] [--database-url postgres://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

from benchmarks import fleet_data  # noqa: E402
from benchmarks.fleet_cpu import CpuMeter  # noqa: E402
from server import bootstrap, db  # noqa: E402
from server.push.vapid import public_key_b64  # noqa: E402
from server.settings import Settings  # noqa: E402
from tests.helpers.releases import publish_revision  # noqa: E402

FIELDGUIDE = str(Path(sys.executable).parent / "fieldguide")
PERIOD = 300.0
HERE = Path(__file__).resolve().parent


def load() -> str:
    """The 1, 5 and 15 minute load averages, as printed beside each figure."""
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def quantile(values: list[float], q: float) -> float:
    """The q-quantile of values (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Site:
    """The processes of one deployment: app servers, push workers, the stand-in and the fleet."""

    def __init__(self, folder: Path, url: str, vapid_key: str):
        self.folder = folder
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDGUIDE_")}
        self.env.update(
            FIELDGUIDE_DATA_DIR=str(folder / "data"),
            FIELDGUIDE_DATABASE_URL=url,
            FIELDGUIDE_VAPID_PRIVATE_KEY=vapid_key,
            FIELDGUIDE_PUSH_WORKER="false",
            FIELDGUIDE_PUSH_EXTRA_HOSTS="127.0.0.1",
        )
        self.servers: list[tuple[subprocess.Popen, int]] = []
        self.workers: list[subprocess.Popen] = []
        self.others: list[subprocess.Popen] = []

    def _log(self, name: str):
        return open(self.folder / f"{name}.log", "w")

    async def add_server(self) -> int:
        """Start one more `fieldguide serve` and wait until it answers; returns its port."""
        port = free_port()
        name = f"serve-{len(self.servers) + 1}"
        process = subprocess.Popen(
            [FIELDGUIDE, "serve", "--no-demo", "--port", str(port), "--log-level", "warning"],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=self._log(name),
        )
        self.servers.append((process, port))
        async with httpx.AsyncClient(timeout=2) as client:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    break
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/sign-in")).status_code == 200:
                        return port
                except httpx.TransportError:
                    await asyncio.sleep(0.2)
        raise SystemExit(f"{name} did not start:\n" + (self.folder / f"{name}.log").read_text()[-3000:])

    async def add_worker(self) -> None:
        """Start one `fieldguide push-worker` and wait for its start line."""
        process = subprocess.Popen(
            [FIELDGUIDE, "push-worker"], cwd=ROOT, env=self.env, stdout=subprocess.PIPE,
            stderr=self._log(f"push-worker-{len(self.workers) + 1}"), text=True,
        )
        self.workers.append(process)
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 60)
        if not line.startswith("Push worker started"):
            raise SystemExit(f"a push worker did not start: {line!r}")

    def stand_in(self, vapid_public: str) -> tuple[subprocess.Popen, dict]:
        """The push-service stand-in and its hello line (port, feed port, key pool)."""
        process = subprocess.Popen(
            [sys.executable, str(HERE / "fleet_push_service.py"), "--vapid-key", vapid_public],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log("push-service"), text=True,
        )
        self.others.append(process)
        return process, json.loads(process.stdout.readline())

    def fleet(self, *args: str) -> subprocess.Popen:
        """The fleet's phones (the load generator), a process of its own."""
        process = subprocess.Popen(
            [sys.executable, str(HERE / "fleet_devices.py"), *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log("fleet"), text=True,
        )
        self.others.append(process)
        return process

    def stop(self) -> None:
        """Stop every process started (SIGTERM, then SIGKILL after 10 s)."""
        everyone = [p for p, _ in self.servers] + self.workers + self.others
        for process in everyone:
            if process.poll() is None:
                if process.stdin:
                    process.stdin.close()
                process.terminate()
        for process in everyone:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def write_devices(path: Path, devices: list[fleet_data.Device], ports: list[int], etag: str) -> str:
    """The phones' file for benchmarks/fleet_devices.py."""
    path.write_text(json.dumps({
        "servers": [f"127.0.0.1:{p}" for p in ports],
        "etag": etag,
        "user_agent": fleet_data.USER_AGENT,
        "devices": [[d.token, d.device_id] for d in devices],
    }))
    return str(path)


async def release_etag(port: int, device: fleet_data.Device) -> str:
    """The current release's ETag, as the server gives it to a phone holding nothing."""
    async with httpx.AsyncClient(timeout=60) as client:
        response = await client.get(
            f"http://127.0.0.1:{port}/api/v1/sync",
            headers={"Cookie": f"fg_session={device.token}", "Fieldguide-Device": device.device_id,
                     "User-Agent": fleet_data.USER_AGENT},
        )
    assert response.status_code == 200, response.text[:300]
    return response.headers["etag"]


async def measure_capacity(site: Site, devices, ports: list[int], etag: str, url: str, args) -> dict:
    """Closed-loop 304 checks per second through these app processes."""
    await fleet_data.as_if_polling(url, PERIOD)
    spec = write_devices(site.folder / "capacity.json", devices, ports, etag)
    meter = CpuMeter({"serve": [p.pid for p, _ in site.servers]}, fleet_data.database_name(url))
    process = site.fleet(
        "capacity", spec, "--concurrency", str(args.concurrency), "--seconds", str(args.capacity_seconds)
    )
    out, _ = await asyncio.to_thread(process.communicate)
    result = json.loads(out.strip().splitlines()[-1])
    result["load"] = load()
    result["cpu"] = meter.used()
    site.others.remove(process)
    return result


async def wait_for_notices(port: int, count: int, deadline: float) -> dict:
    """The stand-in's counts once it has accepted a notice for `count` devices (or at the deadline)."""
    async with httpx.AsyncClient(timeout=10) as client:
        while True:
            stats = (await client.get(f"http://127.0.0.1:{port}/stats")).json()
            if stats["devices"] >= count or time.monotonic() > deadline:
                stats["load"] = load()
                return stats
            await asyncio.sleep(0.25)


def summarize_capacity(label: str, result: dict, need: float) -> None:
    rate = result["rate"]
    if not result["p50_ms"]:
        print(f"  {label:<26} no check measured (every phone was used in the warm-up: more --devices)")
        return
    others = {k: v for k, v in result["statuses"].items() if k != "304"}
    cpu = result["cpu"]
    print(
        f"  {label:<26} {rate:>7,.0f} req/s   headroom x{rate / need:.1f}   p50 {result['p50_ms']:.1f} ms,"
        f" p99 {result['p99_ms']:.1f} ms   ({result['checks']:,} checks in {result['seconds']:.1f} s"
        + (f"; not 304: {others}" if others else "") + (f"; {result['errors']} errors" if result["errors"] else "")
        + f")   {result['load']}"
    )
    print(
        f"  {'':<26} CPU per check: app {1000 * cpu['serve'] / result['sent']:.2f} ms, PostgreSQL"
        f" {1000 * cpu['PostgreSQL'] / result['sent']:.2f} ms; machine busy {cpu['machine busy (cores)']:.2f} of"
        f" {os.cpu_count()} cores"
    )


async def run(args) -> None:
    count = args.devices
    need = count / PERIOD
    folder = Path(tempfile.mkdtemp(prefix="fieldguide-fleet-"))
    (folder / "data").mkdir()
    url = await fleet_data.create_database(args.database_url)
    vapid = ec.generate_private_key(ec.SECP256R1())
    vapid_raw = base64.urlsafe_b64encode(vapid.private_numbers().private_value.to_bytes(32, "big")).rstrip(b"=").decode()
    site = Site(folder, url, vapid_raw)
    settings = Settings(data_dir=folder / "data", database_url=url, vapid_private_key=vapid_raw, push_worker=False)
    try:
        started = time.perf_counter()
        push_service, hello = site.stand_in(public_key_b64(vapid))
        await bootstrap.prepare(settings, demo=False)
        agency = await bootstrap.create_agency(settings, "state-sro", "Statewide School Resource Officers")
        devices = await fleet_data.populate(url, agency.id, count, hello["keys"], f"http://127.0.0.1:{hello['port']}")
        print(
            f"Fleet: {count:,} officers of one agency in {fleet_data.SCHOOLS:,} schools, each with a session, a phone"
            f" and a push subscription ({len(hello['keys'])} key pairs shared); set up in"
            f" {time.perf_counter() - started:.0f} s on PostgreSQL"
        )
        print(
            f"Machine: {os.cpu_count()} cores, shared by the load generator, the push stand-in, the app processes,"
            f" the push workers and PostgreSQL (no figure below has a core to itself)"
        )
        print()
        print(f"Sustained rate the fleet needs: {need:,.1f} req/s ({count:,} phones / {PERIOD:.0f} s)")

        ports = [await site.add_server()]
        etag = await release_etag(ports[0], devices[0])
        print(f"Capacity: unchanged-client sync checks (304), closed loop, {args.concurrency} in flight per process,"
              f" each check from another phone (so each writes its phone's last sync, as every 5-minute check does)")
        capacities = {1: await measure_capacity(site, devices, ports, etag, url, args)}
        summarize_capacity("1 x fieldguide serve", capacities[1], need)
        while len(ports) < args.servers:
            ports.append(await site.add_server())
        if args.servers > 1:
            capacities[args.servers] = await measure_capacity(site, devices, ports, etag, url, args)
            summarize_capacity(f"{args.servers} x fieldguide serve", capacities[args.servers], need)
        if capacities.get(2) and capacities[1]["rate"]:
            print(f"  2 processes / 1 process: x{capacities[2]['rate'] / capacities[1]['rate']:.2f}"
                  f" (on {os.cpu_count()} cores shared with the generator and PostgreSQL)")
        print()

        await fleet_data.as_if_polling(url, PERIOD)
        for _ in range(args.workers):
            await site.add_worker()
        spec = write_devices(folder / "fleet.json", devices, ports, etag)
        feed = [] if args.poll_only else ["--feed", str(hello["feed_port"])]
        fleet = site.fleet("fleet", spec, "--period", str(PERIOD), *feed)
        roles = {"serve": site.servers, "push-worker": site.workers, "fleet": [fleet], "push stand-in": [push_service]}
        meter = CpuMeter(
            {role: [p.pid for p in (x[0] if isinstance(x, tuple) else x for x in ps)] for role, ps in roles.items()},
            fleet_data.database_name(url),
        )
        ready = json.loads(await asyncio.to_thread(fleet.stdout.readline))["ready"]
        await asyncio.sleep(args.duration)
        steady_load = load()

        began = time.time()
        release = await publish_revision(
            agency=agency, touch="restraint-devices", changes={"restraint-devices": "major"},
            summary="Restraint devices: a physical arrest only, every time.",
        )
        commit = time.time()
        publish_load = load()
        deadline = time.monotonic() + args.give_up
        reading = asyncio.ensure_future(asyncio.to_thread(fleet.stdout.readline))
        stats = await wait_for_notices(hello["port"], count, deadline)
        outbox = await fleet_data.notices_by_status(url, release.id)
        if not (await asyncio.wait({reading}, timeout=max(0.0, deadline - time.monotonic())))[0]:
            fleet.stdin.write("stop\n")
            fleet.stdin.flush()
        line = await reading
        fetched_load = load()
        if not line.startswith("{"):
            raise SystemExit(f"the fleet stopped ({line[:200]!r}):\n" + (folder / "fleet.log").read_text()[-3000:])
        result = json.loads(line)
        used = meter.used()
        fleet_seconds = time.time() - ready
        report_fleet(args, count, need, ready, began, commit, release.number, result, stats, outbox,
                     steady_load, publish_load, fetched_load, used, fleet_seconds)
    except BaseException:
        print(f"The processes' logs are kept in {folder}", file=sys.stderr)
        raise
    else:
        shutil.rmtree(folder, ignore_errors=True)
    finally:
        site.stop()
        await db.close_db()
        await fleet_data.drop_database(args.database_url, url)


def report_fleet(args, count, need, ready, began, commit, number, result, stats, outbox,
                 steady_load, publish_load, fetched_load, used, fleet_seconds) -> None:
    requests = result["requests"]  # (scheduled wall time, latency s, status, why, bytes)
    settle = min(5.0, (began - ready) / 2)
    steady = [r for r in requests if r[3] == "poll" and ready + settle <= r[0] < began]
    window = began - (ready + settle)
    latencies = [r[1] * 1000 for r in steady if r[2] == 304]
    print(f"Steady fleet load: {args.servers} serve processes, {args.duration:.0f} s before the publish")
    if steady:
        bad = sum(1 for r in steady if r[2] != 304)
        print(f"  offered {len(steady) / window:,.1f} req/s (need {need:,.1f}); answered 304: {len(latencies):,},"
              f" other: {bad}; latency p50 {statistics.median(latencies):.1f} ms, p99 {quantile(latencies, 0.99):.1f} ms"
              f"   {steady_load}")
    print()
    print(f"Publish of release {number} (one card revised): its transaction, with {count:,} notices written,"
          f" took {commit - began:.1f} s   {publish_load}")
    if stats["last_at"] and stats["devices"] < count:
        print(f"  notices accepted by the push service when the run gave up ({args.give_up:.0f} s after the commit):"
              f" {stats['devices']:,} of {count:,}   {stats['load']}")
    elif stats["last_at"]:
        sent = stats["last_at"] - commit
        print(f"  every notice accepted by the push service: {sent:.1f} s after the commit"
              f" (first at {stats['first_at'] - commit:.1f} s; {stats['devices']:,} of {count:,} devices,"
              f" {stats['delivered'] / max(sent, 0.001):,.0f} notices/s; {args.workers} push workers;"
              f" stand-in answers in 20-50 ms)   {stats['load']}")
    print(f"  outbox then: {outbox}; duplicates at the push service: {stats['duplicates']};"
          f" {stats['decrypted']} decrypted and checked; refused: {stats['errors'] or 'none'}")
    fetched = [t - commit for t in result["fetched_at"] if t is not None]
    model = ("at its next 5-minute poll only (no notices heard)" if args.poll_only
             else "at once on its notice, or at its next 5-minute poll if that comes first")
    if fetched:
        by = {}
        for r in requests:
            if r[2] == 200:
                by[r[3]] = by.get(r[3], 0) + 1
        spread = (f"p50 {quantile(fetched, 0.5):.1f} s, p90 {quantile(fetched, 0.9):.1f} s,"
                  f" p99 {quantile(fetched, 0.99):.1f} s")
        if len(fetched) == count:
            print(f"  every phone has fetched release {number}: {max(fetched):.1f} s after the commit"
                  f" ({spread})   {fetched_load}")
        else:
            pace = len(fetched) / args.give_up
            print(f"  when the run gave up, {args.give_up:.0f} s after the commit, {len(fetched):,} of {count:,} phones"
                  f" had fetched release {number} ({spread}); at that pace, {pace:,.0f} phones/s, all would by"
                  f" ~{count / pace:,.0f} s   {fetched_load}")
        print(f"    model: a phone fetches the new release {model}; fetches by trigger: {by}")
        after = [r for r in requests if commit <= r[0] <= commit + max(fetched)]
        if after:
            span = max(fetched) or 1
            sizes = [r[4] for r in after if r[2] == 200]
            check_ms = [r[1] * 1000 for r in after if r[2] == 304]
            failed = sum(1 for r in after if r[2] not in (200, 304))
            print(f"    meanwhile: {len(after) / span:,.0f} req/s, of which {len(sizes) / span:,.0f} deltas/s"
                  f" ({len(sizes):,} deltas of"
                  f" {statistics.mean(sizes) / 1024:,.1f} KiB gzip on average; 304 checks p50"
                  f" {statistics.median(check_ms) if check_ms else 0:.0f} ms, p99"
                  f" {quantile(check_ms, 0.99) if check_ms else 0:.0f} ms; failed: {failed})")
    else:
        print(f"  no phone fetched release {number}")
    print()
    machine = used.pop("machine busy (cores)")
    shares = ", ".join(f"{role} {seconds / fleet_seconds:.2f}" for role, seconds in used.items())
    print(f"CPU over the fleet run ({fleet_seconds:.0f} s), cores busy on average: {shares};"
          f" the whole machine {machine:.2f} of {os.cpu_count()} (other work on it included)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="A small run for development: 5,000 phones, short phases.")
    parser.add_argument("--devices", type=int, help="Phones (officers) in the fleet (default 50,000; --quick 5,000).")
    parser.add_argument("--servers", type=int, default=2, help="`fieldguide serve` processes for the fleet (default 2).")
    parser.add_argument("--workers", type=int, default=3, help="`fieldguide push-worker` processes (default 3).")
    parser.add_argument("--duration", type=float, help="Seconds of steady fleet load before the publish (default 30; --quick 15).")
    parser.add_argument("--capacity-seconds", type=float, help="Seconds each capacity run measures (default 15; --quick 6).")
    parser.add_argument("--concurrency", type=int, default=16, help="Capacity: requests in flight per serve process.")
    parser.add_argument("--poll-only", action="store_true", help="Phones do not sync on a notice, only at their next poll.")
    parser.add_argument(
        "--give-up", type=float, default=360,
        help="Seconds after the publish to stop waiting for notices and fetches (and report how far they got).",
    )
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/postgres",
        help="A PostgreSQL database to connect to for making (and dropping) the run's own database.",
    )
    args = parser.parse_args()
    args.devices = args.devices or (5_000 if args.quick else 50_000)
    args.duration = args.duration if args.duration is not None else (15 if args.quick else 30)
    args.capacity_seconds = args.capacity_seconds or (6 if args.quick else 15)
    # SIGTERM unwinds like Ctrl-C, so the processes stop and the run's database is dropped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
