#!/usr/bin/env python3
"""Idle memory of `probe agent`: what an agent holds between its scheduled tests.

Not part of CI (a few minutes); figures go to BENCHMARKS.md ("Agent's own cost", under
"1,000 agents"). scripts/fleet-bench.py imports `memory()` from here, so its agent RSS figure is
the same measurement.

Runs one `probe serve` on loopback and, per variant, AGENTS `probe agent` processes with the
config of config/probes/agent.example.toml (its three targets and test settings, URLs pointed at
the local server) on a compressed schedule, so that every test runs and the light ones run
several times within minutes. All variants run side by side against the same server, so a
before/after comparison comes from one run on the same machine state:

    python3 scripts/agent_rss.py --variant before=/tmp/probe-old --variant after=target/release/probe

A variant is LABEL=BINARY[,ENV=VALUE...] (e.g. `arena1=target/release/probe,MALLOC_ARENA_MAX=1`).
After every agent has run each of its tests at least once and its latency test ROUNDS times, the
agents' memory is sampled from /proc every 2 s for SAMPLE_S seconds, at moments when none of
the agent's tests is running (no run finished within its own duration + 3 s, and the agent holds
no socket besides its /metrics listener); per agent the median of those samples counts, and the table shows
the median (and max) over the agents of a variant:

  VmRSS    resident set, what `ps`/`top` and the 10 MB goal of issue 15 refer to
  RssAnon  private heap, stacks and other anonymous memory: the agent's own cost
  RssFile  file-backed pages (the `probe` binary's code and read-only data, libc): shared by
           every process mapping the same files, reclaimable by the kernel
  Pss      proportional set size (smaps_rollup): shared pages split between the processes
  VmHWM    peak VmRSS since the agent started (start-up and tests included)
"""

import argparse
import atexit
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIELDS = ("VmRSS", "RssAnon", "RssFile", "Pss", "Threads", "VmHWM")
STARTED = []


def memory(pid) -> dict:
    """VmRSS, RssAnon, RssFile, VmHWM (bytes) and Threads from /proc/PID/status, Pss from
    smaps_rollup."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
            out[key] = int(rest.split()[0]) * 1024
        elif key == "Threads":
            out[key] = int(rest.split()[0])
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                out["Pss"] = int(line.split()[1]) * 1024
    except OSError:
        out["Pss"] = 0
    return out


def spawn(cmd, **kw):
    p = subprocess.Popen(cmd, **kw)
    STARTED.append(p)
    return p


@atexit.register
def _stop_all():
    for p in STARTED:
        if p.poll() is None:
            p.terminate()
    for p in STARTED:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()


def free_ports(n) -> list:
    """n distinct free loopback ports (all held open while choosing, so none repeats)."""
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def get(url, timeout=10) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def wait_ok(url, what, within=60):
    deadline = time.time() + within
    while time.time() < deadline:
        try:
            get(url, timeout=5)
            return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"agent_rss: {what} not ready at {url}")


def server_list(server, work: Path) -> Path:
    """The LibreSpeed server list of the example config, naming the local `probe serve`."""
    servers = work / "librespeed-servers.json"
    servers.write_text(
        '[{"id": 1, "name": "Example LibreSpeed", "server": "http://%s/backend/", '
        '"dlURL": "garbage.php", "ulURL": "empty.php", "pingURL": "empty.php", '
        '"getIpURL": "getIP.php"}]' % server)
    return servers


def agent_config(i, port, server, servers: Path) -> str:
    """config/probes/agent.example.toml's targets and test settings on a compressed schedule."""
    return f'''[agent]
region = "UZ-TK"
site = "rss-agent-{i}"
latitude = 41.2995
longitude = 69.2401
isp = "ExampleNet"
listen = "127.0.0.1:{port}"
daily_budget_bytes = 5_000_000_000

[tests.download]
interval = "90s"
jitter = "20s"
timeout = "30s"
duration = "10s"
grace = "1.5s"
streams = 4
max_bytes = 500_000_000
loaded_latency = true

[tests.upload]
interval = "90s"
jitter = "20s"
timeout = "30s"
duration = "10s"
grace = "1.5s"
streams = 3
max_bytes = 250_000_000

[tests.latency]
interval = "15s"
jitter = "5s"
samples = 10

[tests.loss]
interval = "30s"
jitter = "10s"
packets = 50
packet_interval = "20ms"

[tests.dns]
interval = "15s"
jitter = "5s"

[tests.http]
interval = "30s"
jitter = "10s"
http_bytes = 1_048_576

[[targets]]
name = "regional-1"
kind = "probe"
scope = "domestic"
url = "http://localhost:{server.split(':')[1]}/"
tests = ["download", "upload", "latency", "loss", "dns", "http"]

[[targets]]
name = "librespeed-1"
kind = "librespeed"
scope = "domestic"
server_list = "{servers}"
server = "Example LibreSpeed"
tests = ["download", "upload", "latency"]

[[targets]]
name = "mirror"
kind = "url"
scope = "international"
url = "http://{server}/garbage?ckSize=5"
tests = ["download", "http"]
'''


RUNS = re.compile(r'^probe_runs_total\{([^}]*)\} (\S+)$', re.M)
LAST = re.compile(r'^probe_last_run_timestamp_seconds\{([^}]*)\} (\S+)$', re.M)
DUR = re.compile(r'^probe_duration_seconds\{([^}]*)\} (\S+)$', re.M)


def label(labels, name):
    m = re.search(name + r'="([^"]*)"', labels)
    return m.group(1) if m else ""


def runs_by_test(text) -> dict:
    out = {}
    for labels, v in RUNS.findall(text):
        t = label(labels, "test")
        out[t] = out.get(t, 0) + float(v)
    return out


def busy(text, now) -> bool:
    """Whether a test is (probably) running: one finished within its own duration + 3 s ago, or
    is due. The agent exports the start time of each test's last run and how long it took."""
    durations = {}
    for labels, v in DUR.findall(text):
        durations[(label(labels, "test"), label(labels, "target"))] = float(v)
    for labels, v in LAST.findall(text):
        key = (label(labels, "test"), label(labels, "target"))
        if now - float(v) < durations.get(key, 15.0) + 3.0:
            return True
    return False


def testing(pid, listen_port) -> bool:
    """Whether a test of the agent is running now: it holds a TCP or UDP socket other than its
    /metrics listener and the connections accepted there. Every test against the local server
    opens one (HTTP over TCP, the UDP echo, DNS queries); the metrics above only show runs that
    have finished, so they miss a download or upload in progress. (An agent with remote_write
    keeps its push connection open and would always look busy; these agents have none.)"""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[len("socket:["):-1])
    for table in ("tcp", "tcp6", "udp", "udp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            f = line.split()
            if f[9] in inodes and int(f[1].rsplit(":", 1)[1], 16) != listen_port:
                return True
    return False


def idle_memory(agents, sample_s, give_up_s=300) -> list:
    """Per agent (pid, metrics port): the median of memory() over samples taken every 2 s for
    sample_s seconds while none of its tests runs (None if it never was idle within give_up_s).
    A sample counts only if the agent was idle both before and after it was read."""
    samples = [[] for _ in agents]
    t0 = time.time()
    while time.time() < t0 + sample_s or any(not s for s in samples):
        if time.time() > t0 + give_up_s:
            break
        for i, (pid, port) in enumerate(agents):
            if busy(get(f"http://127.0.0.1:{port}/metrics"), time.time()) or testing(pid, port):
                continue
            m = memory(pid)
            if not testing(pid, port):
                samples[i].append(m)
        time.sleep(2)
    return [{f: statistics.median(x[f] for x in s) for f in FIELDS} if s else None for s in samples]


def summary(per_agent) -> dict:
    """Median over agents of each field, plus the largest VmRSS (VmRSS_max)."""
    out = {f: statistics.median(a[f] for a in per_agent) for f in FIELDS}
    out["VmRSS_max"] = max(a["VmRSS"] for a in per_agent)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", action="append", default=[],
                    help="LABEL=BINARY[,ENV=VALUE...]; default: this tree's target/release/probe")
    ap.add_argument("--agents", type=int, default=3, help="agents per variant")
    ap.add_argument("--rounds", type=int, default=4, help="latency runs before sampling")
    ap.add_argument("--sample-s", type=int, default=40)
    ap.add_argument("--timeout-s", type=int, default=600)
    args = ap.parse_args()
    variants = []
    for v in args.variant or [f"this build={ROOT / 'target/release/probe'}"]:
        lab, _, rest = v.partition("=")
        binary, *envs = rest.split(",")
        env = dict(e.split("=", 1) for e in envs)
        if not Path(binary).is_file():
            sys.exit(f"agent_rss: {binary}: no such binary (cargo build --release -p probes)")
        variants.append((lab, binary, env))

    work = Path(tempfile.mkdtemp(prefix="agent-rss-"))
    ports = free_ports(1 + args.agents * len(variants))
    server = f"127.0.0.1:{ports.pop()}"
    spawn([variants[-1][1], "serve", "--listen", server, "--max-client-bytes-per-second", "20000000"],
          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ok(f"http://{server}/ping", "probe serve")
    servers = server_list(server, work)
    agents = []  # (variant label, Popen, port)
    for i in range(args.agents):
        for lab, binary, env in variants:  # interleaved: every variant sees the same load
            port = ports.pop()
            cfg = work / f"agent-{len(agents)}.toml"
            cfg.write_text(agent_config(len(agents), port, server, servers))
            log = open(work / f"agent-{len(agents)}.log", "w")
            p = spawn([binary, "agent", "--config", str(cfg)], stdout=subprocess.DEVNULL,
                      stderr=log, env={**os.environ, "RUST_LOG": "error", **env})
            agents.append((lab, p, port))
    for _, p, port in agents:
        if p.poll() is not None:
            sys.exit(f"agent_rss: probe agent exited: see {work}")
        wait_ok(f"http://127.0.0.1:{port}/-/healthy", f"probe agent (logs in {work})")

    tests = {"download", "upload", "latency", "loss", "dns", "http"}
    deadline = time.time() + args.timeout_s
    pending = list(agents)
    while pending:
        if time.time() > deadline:
            sys.exit(f"agent_rss: agents did not run every test within {args.timeout_s} s")
        still = []
        for a in pending:
            runs = runs_by_test(get(f"http://127.0.0.1:{a[2]}/metrics"))
            # latency runs against two targets, so ROUNDS rounds are 2 x ROUNDS runs
            if not (tests <= set(runs) and runs.get("latency", 0) >= 2 * args.rounds):
                still.append(a)
        pending = still
        time.sleep(2)

    per_agent = idle_memory([(p.pid, port) for _, p, port in agents], args.sample_s)

    print(f"`python3 scripts/agent_rss.py {' '.join(sys.argv[1:])}`: {args.agents} agents per variant, "
          f"sampled idle after {args.rounds} latency rounds and every test at least once; "
          f"load average at the end {' / '.join(f'{x:.1f}' for x in os.getloadavg())}.\n")
    print("| variant | VmRSS median (max) | RssAnon | RssFile | Pss | threads | peak (VmHWM) |")
    print("|---|---|---|---|---|---|---|")
    for lab, _, env in variants:
        mine = [m for (al, _, _), m in zip(agents, per_agent) if al == lab and m]
        if not mine:
            print(f"| {lab} | no idle samples | | | | | |")
            continue
        med = summary(mine)
        print(f"| {lab} | {med['VmRSS'] / 1e6:.1f} MB ({med['VmRSS_max'] / 1e6:.1f}) | {med['RssAnon'] / 1e6:.1f} MB "
              f"| {med['RssFile'] / 1e6:.1f} MB | {med['Pss'] / 1e6:.1f} MB | {med['Threads']:.0f} "
              f"| {med['VmHWM'] / 1e6:.1f} MB |")

if __name__ == "__main__":
    main()
