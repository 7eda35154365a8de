"""Where the fleet benchmark's CPU went: per process role, PostgreSQL's backends, and the whole machine (Linux /proc)."""

from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def pid_cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far (0 when it is gone or cannot be read)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def postgres_backends(database: str) -> list[int]:
    """The PostgreSQL server processes serving connections to this database (same machine only)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if title.startswith("postgres:") and f" {database} " in title:
                found.append(int(entry.name))
    return found


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine since boot."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU seconds by role between two moments; PostgreSQL counted by the backends of one database."""

    def __init__(self, roles: dict[str, list[int]], database: str):
        self.roles = roles
        self.database = database
        self.start = self.snapshot()

    def snapshot(self) -> dict:
        pg = {pid: pid_cpu(pid) for pid in postgres_backends(self.database)}
        return {
            "roles": {role: sum(pid_cpu(p) for p in pids) for role, pids in self.roles.items()},
            "postgres": pg,
            "machine": machine_jiffies(),
        }

    def used(self) -> dict[str, float]:
        """CPU seconds per role since the meter was made, plus 'PostgreSQL' and 'machine busy' (in cores)."""
        end = self.snapshot()
        used = {role: end["roles"][role] - self.start["roles"][role] for role in self.roles}
        # A backend that started meanwhile counts whole; one that ended meanwhile is lost (pools keep theirs).
        used["PostgreSQL"] = sum(cpu - self.start["postgres"].get(pid, 0.0) for pid, cpu in end["postgres"].items())
        busy = end["machine"][0] - self.start["machine"][0]
        total = end["machine"][1] - self.start["machine"][1]
        used["machine busy (cores)"] = (os.cpu_count() or 1) * busy / total if total else 0.0
        return used
