#!/usr/bin/env python3
"""Outpost HTTP benchmark driver (standard library only). Run through bench/run.

For each runtime (outpost, workerd, deno, bun, node) and workload (hello, json,
html): start the server on a free 127.0.0.1 port, time spawn -> first 200,
check the response, warm up with wrk for 1 s, run the measured wrk, read the
server's RSS and CPU time from /proc, stop the whole process group and check
that nothing is left. Prints one Markdown table per workload and writes them to
bench/results/latest.md (plus latest.json).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent  # bench/
ROOT = BENCH.parent  # the workspace
WORKLOADS_DIR = BENCH / "workloads"
PEERS_DIR = BENCH / ".peers"
RESULTS_DIR = BENCH / "results"
LOG_DIR = RESULTS_DIR / "logs"
SCRATCH_DIR = PEERS_DIR / "run"  # cwd of the servers (outpost may write .outpost/ there)

RUNTIMES = ["outpost", "workerd", "deno", "bun", "node"]
WORKLOADS = ["hello", "json", "html"]
NPM_PEERS = ["workerd", "deno", "bun"]  # installed into bench/.peers with npm

WRK_THREADS = 1
WRK_CONNECTIONS = 32
WARMUP_SECS = 1
START_TIMEOUT_SECS = 30.0
# Process starts per cell; the table shows their median.
START_SAMPLES = 5
STOP_GRACE_SECS = 3.0
CLK_TCK = os.sysconf("SC_CLK_TCK")

# ---------------------------------------------------------------------------
# Hook: Outpost's in-process figures.
# The runtime engineer's `outpost-bench` package prints JSON lines such as
#   {"metric":"cold_start_hello_us","p50":123,"p99":456}
# on stdout. Until that package exists in the workspace we print
# "in-process figures: not available".
INPROCESS_PACKAGE = "outpost-bench"
INPROCESS_CMD = ["cargo", "run", "--release", "-p", INPROCESS_PACKAGE, "--", "isolate"]
INPROCESS_TIMEOUT_SECS = 3600
# ---------------------------------------------------------------------------


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------- setup steps


def cargo_target_dir() -> Path:
    env = os.environ.get("CARGO_TARGET_DIR")
    if env:
        return (ROOT / env).resolve() if not os.path.isabs(env) else Path(env)
    meta = cargo_metadata()
    if meta and meta.get("target_directory"):
        return Path(meta["target_directory"])
    return ROOT / "target"


_META_CACHE: dict | None = None


def cargo_metadata() -> dict | None:
    global _META_CACHE
    if _META_CACHE is not None:
        return _META_CACHE
    if not shutil.which("cargo"):
        return None
    try:
        out = subprocess.run(
            ["cargo", "metadata", "--no-deps", "--format-version", "1"],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    try:
        _META_CACHE = json.loads(out.stdout)
    except json.JSONDecodeError:
        return None
    return _META_CACHE


def build_outpost() -> str | None:
    """cargo build --release -p outpost. Returns an error note, or None if it built."""
    if not shutil.which("cargo"):
        return "cargo not found"
    log("building outpost: cargo build --release -p outpost")
    rc = subprocess.run(["cargo", "build", "--release", "-p", "outpost"], cwd=ROOT, stdout=sys.stderr).returncode
    if rc != 0:
        log(f"cargo build failed (exit {rc}); outpost rows use an existing binary if there is one")
        return f"cargo build --release -p outpost failed (exit {rc})"
    return None


def ensure_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk:
        return wrk
    if not shutil.which("apt-get"):
        sys.exit("bench: wrk is missing and apt-get is not available; install wrk by hand")
    sudo = [] if os.geteuid() == 0 else (["sudo"] if shutil.which("sudo") else [])
    log("installing wrk: apt-get install -y wrk")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(sudo + ["apt-get", "install", "-y", "wrk"], env=env, stdout=sys.stderr).returncode != 0:
        log("apt-get install failed; running apt-get update and trying again")
        subprocess.run(sudo + ["apt-get", "update"], env=env, stdout=sys.stderr)
        subprocess.run(sudo + ["apt-get", "install", "-y", "wrk"], env=env, stdout=sys.stderr)
    wrk = shutil.which("wrk")
    if not wrk:
        sys.exit("bench: could not install wrk (apt-get install -y wrk failed)")
    return wrk


def probe_version(binary: str | Path) -> str | None:
    """Run BINARY --version; return its first line, or None if it does not run."""
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else "?"


# Where each npm package leaves its native binary: the .bin link first, then the
# platform packages that are the optional dependencies (in case a newer npm did
# not run the postinstall step that links them).
PEER_CANDIDATES = {
    "workerd": [
        "node_modules/.bin/workerd",
        "node_modules/workerd/bin/workerd",
        "node_modules/@cloudflare/workerd-linux-64/bin/workerd",
        "node_modules/@cloudflare/workerd-linux-arm64/bin/workerd",
    ],
    "deno": [
        "node_modules/.bin/deno",
        "node_modules/deno/deno",
        "node_modules/@deno/linux-x64-glibc/deno",
        "node_modules/@deno/linux-arm64-glibc/deno",
    ],
    "bun": [
        "node_modules/.bin/bun",
        "node_modules/bun/bin/bun.exe",
        "node_modules/@oven/bun-linux-x64/bin/bun",
        "node_modules/@oven/bun-linux-x64-baseline/bin/bun",
        "node_modules/@oven/bun-linux-aarch64/bin/bun",
    ],
}


def find_peer(name: str) -> tuple[Path, str] | None:
    for rel in PEER_CANDIDATES[name]:
        p = PEERS_DIR / rel
        if p.exists():
            ver = probe_version(p)
            if ver:
                return p.resolve(), ver
    return None


def npm_install(pkgs: list[str]) -> bool:
    cmd = ["npm", "install", "--prefix", str(PEERS_DIR), "--no-audit", "--no-fund",
           "--loglevel=error", *pkgs]
    log("installing peers: " + " ".join(cmd[:2] + ["--prefix", "bench/.peers"] + pkgs))
    try:
        return subprocess.run(cmd, cwd=PEERS_DIR, timeout=900, stdout=sys.stderr).returncode == 0
    except (OSError, subprocess.TimeoutExpired) as e:
        log(f"npm install failed: {e}")
        return False


def ensure_peers(wanted: list[str]) -> dict[str, dict]:
    """Install npm peers into bench/.peers; returns name -> {bin, version} or {error}."""
    found: dict[str, dict] = {}
    npm_wanted = [p for p in NPM_PEERS if p in wanted]
    missing = []
    for name in npm_wanted:
        hit = find_peer(name)
        if hit:
            found[name] = {"bin": str(hit[0]), "version": hit[1]}
        else:
            missing.append(name)
    if missing:
        if not shutil.which("npm"):
            log("npm not found: cannot install " + ", ".join(missing))
        else:
            PEERS_DIR.mkdir(parents=True, exist_ok=True)
            pkg_json = PEERS_DIR / "package.json"
            if not pkg_json.exists():
                pkg_json.write_text('{\n  "private": true,\n  "description": "bench peers (generated)"\n}\n')
            # All at once first; if that fails, one by one so one bad peer does not sink the others.
            if not npm_install(missing):
                for name in missing:
                    npm_install([name])
            for name in missing:
                hit = find_peer(name)
                if not hit and (PEERS_DIR / "node_modules" / name).exists():
                    # A binary that is placed by the package's postinstall script: run it once.
                    log(f"{name}: binary not found after install; trying npm rebuild {name}")
                    subprocess.run(["npm", "rebuild", "--prefix", str(PEERS_DIR), name], cwd=PEERS_DIR, stdout=sys.stderr)
                    hit = find_peer(name)
                if hit:
                    found[name] = {"bin": str(hit[0]), "version": hit[1]}
    for name in npm_wanted:
        if name not in found:
            found[name] = {"error": "unavailable"}
            log(f"{name}: unavailable (npm install or `{name} --version` failed)")
    if "node" in wanted:
        node = shutil.which("node")
        ver = probe_version(node) if node else None
        found["node"] = {"bin": node, "version": ver} if ver else {"error": "unavailable"}
    return found


# ------------------------------------------------------------- server control


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_command(runtime: str, binary: str, workload: str, port: int) -> list[str]:
    w = WORKLOADS_DIR
    if runtime == "outpost":
        return [binary, "dev", str(w / "worker" / f"{workload}.js"), "--port", str(port)]
    if runtime == "workerd":
        return [binary, "serve", str(w / "workerd.capnp"), workload,
                "--socket-addr", f"http=127.0.0.1:{port}"]
    if runtime == "deno":
        return [binary, "run", "--no-config", "--no-lock", "--allow-net=127.0.0.1",
                str(w / "deno.js"), workload, str(port)]
    if runtime == "bun":
        return [binary, str(w / "bun.js"), workload, str(port)]
    if runtime == "node":
        return [binary, str(w / "node.js"), workload, str(port)]
    raise ValueError(runtime)


def server_env(runtime: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("NODE_OPTIONS", None)
    if runtime == "deno":
        env["DENO_DIR"] = str(PEERS_DIR / "deno-dir")  # keep Deno's caches out of $HOME
        env["DENO_NO_UPDATE_CHECK"] = "1"
    if runtime == "bun":
        env["BUN_RUNTIME_TRANSPILER_CACHE_PATH"] = "0"
        env["DO_NOT_TRACK"] = "1"
    return env


def http_get(port: int, timeout: float) -> tuple[int, dict[str, str], bytes]:
    """One GET / over a fresh connection (Connection: close). Raises OSError/ValueError."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        buf = bytearray()
        head_end = -1
        length = None
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            if head_end < 0:
                head_end = buf.find(b"\r\n\r\n")
                if head_end >= 0:
                    head = buf[:head_end].decode("latin-1").split("\r\n")
                    headers = {}
                    for line in head[1:]:
                        k, _, v = line.partition(":")
                        headers[k.strip().lower()] = v.strip()
                    if "content-length" in headers:
                        length = int(headers["content-length"])
            if head_end >= 0 and length is not None and len(buf) >= head_end + 4 + length:
                break
            if head_end >= 0 and length is None and buf.endswith(b"\r\n0\r\n\r\n"):
                break  # end of a chunked body
    if head_end < 0:
        raise ValueError("no complete HTTP response head")
    head = buf[:head_end].decode("latin-1").split("\r\n")
    parts = head[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ValueError(f"bad status line {head[0]!r}")
    status = int(parts[1])
    headers = {}
    for line in head[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    body = bytes(buf[head_end + 4:])
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = dechunk(body)
    elif length is not None:
        body = body[:length]
    return status, headers, body


def dechunk(data: bytes) -> bytes:
    out = bytearray()
    i = 0
    while True:
        j = data.find(b"\r\n", i)
        if j < 0:
            break
        size = int(data[i:j].split(b";")[0], 16)
        if size == 0:
            break
        out += data[j + 2:j + 2 + size]
        i = j + 2 + size + 2
    return bytes(out)


def check_response(workload: str, headers: dict[str, str], body: bytes) -> str | None:
    """The same checks for every runtime, so a fast wrong answer does not count."""
    ctype = headers.get("content-type", "")
    if workload == "hello":
        if body != b"Hello World!":
            return f"hello: unexpected body {body[:60]!r}"
        if not ctype.startswith("text/plain"):
            return f"hello: content-type {ctype!r}"
    elif workload == "json":
        try:
            obj = json.loads(body)
        except ValueError:
            return f"json: body is not JSON: {body[:60]!r}"
        if not (isinstance(obj, dict) and obj.get("ok") is True and len(obj.get("items", [])) == 10):
            return "json: unexpected object"
        if not (900 <= len(body) <= 1300):
            return f"json: body is {len(body)} bytes, expected ~1 KB"
        if "application/json" not in ctype:
            return f"json: content-type {ctype!r}"
    elif workload == "html":
        text = body.decode("utf-8", "replace")
        rows = text.count("<tr><td>")
        if rows != 100:
            return f"html: {rows} data rows, expected 100"
        if "User &lt;99&gt;" not in text:
            return "html: row 100 missing or not escaped"
        if not ctype.startswith("text/html"):
            return f"html: content-type {ctype!r}"
    return None


class Stat(tuple):
    """Selected /proc/PID/stat fields."""
    ppid = property(lambda self: self[0])
    pgrp = property(lambda self: self[1])
    session = property(lambda self: self[2])
    cpu_ticks = property(lambda self: self[3])  # utime + stime


def read_stat(pid: int) -> Stat | None:
    """Fields of /proc/PID/stat, or None if the process is gone or a zombie."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()
    # rest[i] is field i+3 of proc(5): state=3, ppid=4, pgrp=5, session=6, utime=14, stime=15
    if rest[0] in ("Z", "X"):
        return None
    return Stat((int(rest[1]), int(rest[2]), int(rest[3]), int(rest[11]) + int(rest[12])))


def all_stats() -> dict[int, Stat]:
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = read_stat(int(d))
            if st:
                out[int(d)] = st
    return out


def group_pids(pgid: int) -> list[int]:
    """Live processes whose process group or session is PGID (the server's own session)."""
    return [pid for pid, st in all_stats().items() if st.pgrp == pgid or st.session == pgid]


def become_subreaper() -> bool:
    """prctl(PR_SET_CHILD_SUBREAPER): orphaned descendants of the servers (daemonised
    helpers, setsid'd children) are re-parented to this driver instead of init, so
    the stray check after each stop can see them."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # 36 = PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def my_descendants() -> list[int]:
    stats = all_stats()
    me = os.getpid()
    found, frontier = [], [me]
    while frontier:
        parent = frontier.pop()
        kids = [pid for pid, st in stats.items() if st.ppid == parent]
        found += kids
        frontier += kids
    return found


def reap_zombies() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def group_cpu_ticks(pgid: int) -> int:
    return sum(st.cpu_ticks for st in all_stats().values() if st.pgrp == pgid or st.session == pgid)


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def group_rss_kib(pgid: int) -> int:
    return sum(rss_kib(pid) or 0 for pid in group_pids(pgid))


def listener_pids(port: int) -> list[int]:
    """Pids holding a listening TCP socket on 127.0.0.1/0.0.0.0/:: PORT (via /proc/net/tcp*)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if len(f) > 9 and f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{f[9]}]")
    if not inodes:
        return []
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{d}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{d}/fd/{fd}") in inodes:
                    pids.append(int(d))
                    break
            except OSError:
                continue
    return pids


def describe(pid: int) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "gone"
    st = read_stat(pid)
    return f"{cmd[:80]}; ppid {st.ppid} pgrp {st.pgrp} sid {st.session}" if st else cmd[:80]


def stop_group(proc: subprocess.Popen) -> tuple[bool, list[int]]:
    """SIGTERM the server's process group, SIGKILL after a grace period.
    Returns (needed SIGKILL, stray pids found and killed afterwards: should be empty)."""
    pgid = proc.pid  # start_new_session=True: the server leads its own session and group
    needed_kill = False
    for sig, wait in ((signal.SIGTERM, STOP_GRACE_SECS), (signal.SIGKILL, 5.0)):
        needed_kill = sig == signal.SIGKILL
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            proc.poll()
            if proc.returncode is not None and not group_pids(pgid):
                break
            time.sleep(0.02)
        else:
            continue
        break
    # Still there after SIGKILL to the group (moved to another group in the same
    # session), or escaped into a new session (then re-parented to us, the
    # subreaper): every live descendant of this driver now is a stray, since
    # the server was its only child. Kill each by pid and report it.
    proc.poll()
    left = sorted(set(group_pids(pgid)) | set(my_descendants()))
    if left:
        log("strays: " + ", ".join(f"{pid} ({describe(pid)})" for pid in left))
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    time.sleep(0.2)
    proc.poll()
    reap_zombies()
    still = sorted(set(group_pids(pgid)) | set(my_descendants()))
    if still:
        log(f"WARNING: processes {still} survived SIGKILL")
    return needed_kill, left


# ---------------------------------------------------------------------- wrk

_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0, "h": 3600000.0}



def stop_server(proc, port, row, label):
    """Stops `proc`'s process group and anything still listening on `port`,
    and notes on `row` what that took. Returns the pids that were left."""
    needed_kill, left = stop_group(proc)
    # Belt and braces: nothing may still listen on the port.
    holders = [p for p in listener_pids(port) if p not in left]
    for pid in holders:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    left += holders
    msgs = []
    if needed_kill:
        msgs.append(f"ignored SIGTERM for {STOP_GRACE_SECS:.0f}s, stopped with SIGKILL")
    if left:
        msgs.append(f"stray processes after stop: {left} (killed)")
    for msg in msgs:
        log(f"{label}: {msg}")
        row.note = (row.note + "; " if row.note else "") + msg
    return left

def parse_latency_ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * _UNIT[m.group(2)]


def parse_wrk(out: str) -> dict:
    res: dict = {}
    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else None
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    res["requests"] = int(m.group(1)) if m else None
    for pct in ("50", "99"):
        m = re.search(rf"^\s*{pct}(?:\.000)?%\s+(\S+)", out, re.M)
        res[f"p{pct}_ms"] = parse_latency_ms(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    res["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    res["socket_errors"] = sum(int(x) for x in m.groups()) if m else 0
    return res


def run_wrk(wrk: str, port: int, secs: int, latency: bool, *, conns: int = WRK_CONNECTIONS,
            path: str = "/", extra: list[str] | None = None) -> tuple[int, str]:
    """Runs wrk against 127.0.0.1:PORT/PATH; `extra` (a Lua script, headers) goes before the URL."""
    cmd = [wrk, f"-t{WRK_THREADS}", f"-c{conns}", f"-d{secs}s"] + (extra or [])
    if latency:
        cmd.append("--latency")
    cmd.append(f"http://127.0.0.1:{port}{path}")
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=secs + 60)
    except subprocess.TimeoutExpired:
        return -1, "wrk timed out"
    return p.returncode, p.stdout + p.stderr


# ---------------------------------------------------------------- one case


@dataclass
class Row:
    runtime: str
    workload: str
    status: str = "ok"  # ok | unavailable | not built | failed
    note: str = ""
    rps: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    cpu_us_per_req: float | None = None
    rss_mib: float | None = None
    start_ms: float | None = None
    requests: int | None = None
    non2xx: int = 0
    socket_errors: int = 0
    log: str = ""


def wait_first_200(proc, port: int, t0: float):
    """Polls GET / until a 200 (connect refused costs microseconds; 0.2 ms
    between tries). Returns ((headers, body) or None, last error)."""
    last_err = "no response"
    deadline = t0 + START_TIMEOUT_SECS
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            return None, f"server exited with code {proc.returncode} before responding"
        try:
            status, headers, body = http_get(port, timeout=2.0)
            if status == 200:
                return (headers, body), last_err
            last_err = f"HTTP {status}"
        except (OSError, ValueError) as e:
            last_err = type(e).__name__
        time.sleep(0.0002)
    return None, last_err


def spawn_server(runtime: str, cmd: list[str], out, err) -> subprocess.Popen:
    """Starts a server in a session (and process group) of its own."""
    return subprocess.Popen(cmd, cwd=SCRATCH_DIR, env=server_env(runtime), stdin=subprocess.DEVNULL,
                            stdout=out, stderr=err, start_new_session=True)


def time_one_start(runtime: str, binary: str, workload: str) -> float | None:
    """Starts the server once more on a new port: spawn -> first 200 in ms,
    or None if it did not answer."""
    port = free_port()
    cmd = server_command(runtime, binary, workload, port)
    t0 = time.perf_counter()
    proc = spawn_server(runtime, cmd, subprocess.DEVNULL, subprocess.DEVNULL)
    try:
        first, _ = wait_first_200(proc, port, t0)
        return (time.perf_counter() - t0) * 1000.0 if first is not None else None
    finally:
        stop_server(proc, port, Row(runtime, workload), f"{runtime}/{workload} (start sample)")


def bench_one(runtime: str, binary: str, workload: str, wrk: str, duration: int) -> Row:
    row = bench_one_server(runtime, binary, workload, wrk, duration)
    if row.start_ms is not None:
        # More starts of a fresh server (the measured one is stopped by now:
        # stopping a server kills every process this driver started), for a
        # median rather than one sample.
        starts = [row.start_ms]
        for _ in range(START_SAMPLES - 1):
            ms = time_one_start(runtime, binary, workload)
            if ms is not None:
                starts.append(ms)
        row.start_ms = statistics.median(starts)
    return row


def bench_one_server(runtime: str, binary: str, workload: str, wrk: str, duration: int) -> Row:
    row = Row(runtime, workload)
    port = free_port()
    cmd = server_command(runtime, binary, workload, port)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    SCRATCH_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"{runtime}-{workload}.log"
    row.log = str(log_path.relative_to(BENCH))
    log(f"{runtime}/{workload}: starting on 127.0.0.1:{port}")
    with open(log_path, "wb") as logf:
        logf.write(("$ " + " ".join(cmd) + "\n").encode())
        logf.flush()
        t0 = time.perf_counter()
        proc = spawn_server(runtime, cmd, logf, subprocess.STDOUT)
    try:
        # 1. spawn -> first 200
        first, last_err = wait_first_200(proc, port, t0)
        if first is None:
            row.status, row.note = "failed", f"{last_err} (see {row.log})"
            if proc.poll() is None:
                row.note = f"no 200 within {START_TIMEOUT_SECS:.0f}s: {last_err} (see {row.log})"
            return row
        row.start_ms = (time.perf_counter() - t0) * 1000.0

        # 2. correctness of the answer, on a second request
        try:
            status, headers, body = http_get(port, timeout=5.0)
            bad = check_response(workload, headers, body) if status == 200 else f"HTTP {status}"
        except (OSError, ValueError) as e:
            bad = f"check request failed: {e}"
        if bad:
            row.status, row.note = "failed", f"wrong response: {bad}"
            return row

        # 3. warm-up, then the measured run bracketed by CPU readings
        run_wrk(wrk, port, WARMUP_SECS, latency=False)
        cpu0 = group_cpu_ticks(proc.pid)
        rc, out = run_wrk(wrk, port, duration, latency=True)
        cpu1 = group_cpu_ticks(proc.pid)
        rss = group_rss_kib(proc.pid)
        with open(log_path, "a") as logf:
            logf.write("\n--- wrk (measured run) ---\n" + out)
        if proc.poll() is not None:
            row.status, row.note = "failed", f"server exited (code {proc.returncode}) during the run"
            return row
        parsed = parse_wrk(out)
        if rc != 0 or not parsed["rps"] or not parsed["requests"]:
            row.status, row.note = "failed", f"wrk exit {rc}, no result (see {row.log})"
            return row
        row.rps = parsed["rps"]
        row.requests = parsed["requests"]
        row.p50_ms, row.p99_ms = parsed["p50_ms"], parsed["p99_ms"]
        row.non2xx, row.socket_errors = parsed["non2xx"], parsed["socket_errors"]
        row.cpu_us_per_req = (cpu1 - cpu0) / CLK_TCK * 1e6 / parsed["requests"]
        row.rss_mib = rss / 1024.0
        notes = []
        if row.non2xx:
            notes.append(f"{row.non2xx} non-2xx responses")
        if row.socket_errors:
            notes.append(f"{row.socket_errors} socket errors")
        row.note = "; ".join(notes)
        return row
    finally:
        left = stop_server(proc, port, row, f"{runtime}/{workload}")
        if not left:
            log(f"{runtime}/{workload}: stopped, no processes left")


# ---------------------------------------------------------- in-process hook


def build_hono_bundle() -> Path | None:
    """Bundles bench/workloads/hono-app.js (Hono plus middleware) into one ES
    module with esbuild from npm, for the ~100 KB cold-start figure."""
    out = PEERS_DIR / "hono-bundle" / "index.js"
    esbuild = PEERS_DIR / "node_modules" / ".bin" / "esbuild"
    if not esbuild.exists() or not (PEERS_DIR / "node_modules" / "hono").exists():
        PEERS_DIR.mkdir(parents=True, exist_ok=True)
        if not npm_install(["hono@4", "esbuild"]):
            log("hono bundle: npm install failed; skipping the bundle cold start")
            return None
    out.parent.mkdir(parents=True, exist_ok=True)
    # Bundle from inside bench/.peers so `hono` resolves from its node_modules.
    src = PEERS_DIR / "hono-app.js"
    shutil.copyfile(BENCH / "workloads" / "hono-app.js", src)
    cmd = [str(esbuild), str(src), "--bundle", "--format=esm",
           "--platform=neutral", "--main-fields=module,main", "--conditions=workerd,worker,browser",
           f"--outfile={out}", "--log-level=warning"]
    if subprocess.run(cmd, cwd=PEERS_DIR, stdout=sys.stderr).returncode != 0:
        log("hono bundle: esbuild failed; skipping the bundle cold start")
        return None
    log(f"hono bundle: {out.stat().st_size} bytes")
    return out


def outpost_in_process_figures() -> tuple[str, list[dict]]:
    """HOOK for Outpost's in-process figures (isolate cold start etc.).

    Runs `cargo run --release -p outpost-bench -- isolate` when the workspace
    has that package and collects the JSON lines it prints
    ({"metric": ..., "p50": ..., "p99": ...}). Returns (status, rows)."""
    meta = cargo_metadata()
    names = {p["name"] for p in meta.get("packages", [])} if meta else set()
    if INPROCESS_PACKAGE not in names:
        return "not available", []
    cmd = list(INPROCESS_CMD)
    bundle = build_hono_bundle()
    if bundle:
        cmd += ["--bundle", str(bundle)]
    log("in-process figures: " + " ".join(cmd))
    try:
        p = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True,
                           timeout=INPROCESS_TIMEOUT_SECS)
    except subprocess.TimeoutExpired:
        return "failed (timed out)", []
    rows = []
    for line in p.stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and "metric" in obj:
            rows.append(obj)
    if p.returncode != 0:
        return f"failed (exit {p.returncode})", rows
    if not rows:
        return "failed (no JSON metric lines on stdout)", rows
    return "ok", rows


# ------------------------------------------------------------------ output


def fmt(v: float | None, digits: int) -> str:
    if v is None:
        return "–"
    return f"{v:,.{digits}f}" if digits else f"{v:,.0f}"


HEADER = ("| runtime | req/s | p50 ms | p99 ms | server CPU µs/req | RSS MiB | start→first response ms |\n"
          "|---|---:|---:|---:|---:|---:|---:|")


def table(workload: str, rows: list[Row], versions: dict[str, str]) -> str:
    lines = [f"### {workload}", "", HEADER]
    notes = []
    for r in rows:
        name = r.runtime
        if r.status == "ok":
            cells = [fmt(r.rps, 0), fmt(r.p50_ms, 2), fmt(r.p99_ms, 2), fmt(r.cpu_us_per_req, 1),
                     fmt(r.rss_mib, 1), fmt(r.start_ms, 1)]
        else:
            cells = [r.status] + ["–"] * 5
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
        if r.note:
            notes.append(f"- {name}: {r.note}")
    if notes:
        lines += [""] + notes
    return "\n".join(lines)


def inprocess_table(status: str, rows: list[dict]) -> str:
    if not rows:
        return f"in-process figures: {status}"
    lines = ["### outpost in-process figures", ""]
    if status != "ok":
        lines += [f"(partial: {status})", ""]
    lines += ["| metric | p50 | p99 |", "|---|---:|---:|"]
    for r in rows:
        lines.append(f"| {r.get('metric')} | {r.get('p50', '–')} | {r.get('p99', '–')} |")
    return "\n".join(lines)


def machine_line() -> str:
    try:
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        load = "?"
    return f"{platform.node()}, {os.cpu_count()} CPUs, load average {load}"


# -------------------------------------------------------------------- main


def csv_list(value: str, allowed: list[str], what: str) -> list[str]:
    items = [x.strip() for x in value.split(",") if x.strip()]
    bad = [x for x in items if x not in allowed]
    if bad or not items:
        raise argparse.ArgumentTypeError(f"unknown {what} {bad or value!r}; choose from {','.join(allowed)}")
    return [x for x in allowed if x in items]  # canonical order


def main() -> int:
    ap = argparse.ArgumentParser(prog="bench/run", description="HTTP benchmark: Outpost vs workerd, Deno, Bun, Node.")
    ap.add_argument("--duration", type=int, default=5, metavar="SECS", help="measured wrk run per case (default 5)")
    ap.add_argument("--only", type=lambda v: csv_list(v, RUNTIMES, "runtime"), default=RUNTIMES,
                    metavar="RUNTIME[,RUNTIME]", help="runtimes: " + ",".join(RUNTIMES))
    ap.add_argument("--workloads", type=lambda v: csv_list(v, WORKLOADS, "workload"), default=WORKLOADS,
                    metavar="W[,W]", help="workloads: " + ",".join(WORKLOADS))
    ap.add_argument("--no-build", action="store_true", help="skip cargo build --release -p outpost")
    args = ap.parse_args()
    if args.duration < 1:
        ap.error("--duration must be at least 1")

    if sys.platform != "linux":
        sys.exit("bench: needs Linux (/proc)")
    # A TERM/HUP to the driver unwinds through bench_one's `finally`, which stops the server.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: sys.exit(128 + signum))
    if not become_subreaper():
        log("warning: could not become a child subreaper; daemonised strays may go unnoticed")

    build_note = None
    if "outpost" in args.only and not args.no_build:
        build_note = build_outpost()
    wrk = ensure_wrk()
    peers = ensure_peers(args.only)

    bins: dict[str, str | None] = {}
    status: dict[str, str] = {}
    versions: dict[str, str] = {}
    if "outpost" in args.only:
        exe = cargo_target_dir() / "release" / "outpost"
        if exe.is_file() and os.access(exe, os.X_OK):
            bins["outpost"] = str(exe)
            versions["outpost"] = probe_version(exe) or "version unknown"
        else:
            status["outpost"] = "not built"
    for name in args.only:
        if name == "outpost":
            continue
        info = peers.get(name, {"error": "unavailable"})
        if "error" in info:
            status[name] = "unavailable"
        else:
            bins[name] = info["bin"]
            versions[name] = info["version"]

    started = _dt.datetime.now().astimezone()
    load_before = machine_line()
    results: dict[str, list[Row]] = {w: [] for w in args.workloads}
    for workload in args.workloads:
        for runtime in args.only:
            if runtime in status:
                row = Row(runtime, workload, status=status[runtime])
                if runtime == "outpost" and build_note:
                    row.note = build_note
            else:
                row = bench_one(runtime, bins[runtime], workload, wrk, args.duration)
                if runtime == "outpost" and build_note:
                    row.note = (row.note + "; " if row.note else "") + build_note + " (stale binary?)"
            results[workload].append(row)

    ip_status, ip_rows = ("skipped (outpost not selected)", [])
    if "outpost" in args.only:
        ip_status, ip_rows = outpost_in_process_figures()

    parts = [
        "# Outpost HTTP benchmark",
        "",
        f"- date: {started.strftime('%Y-%m-%d %H:%M:%S %Z')}",
        f"- machine: {load_before} (at start)",
        f"- load: `wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{args.duration}s --latency` after a "
        f"{WARMUP_SECS}s warm-up, all on 127.0.0.1",
        "- server CPU µs/req: utime+stime of the server's process group over the measured run / requests; "
        "RSS: VmRSS after the run; start: spawn → first HTTP 200, median of " + str(START_SAMPLES) + " starts",
        "- versions: " + ", ".join(f"{k} `{v}`" for k, v in versions.items()),
        "",
    ]
    for workload in args.workloads:
        parts += [table(workload, results[workload], versions), ""]
    parts += [inprocess_table(ip_status, ip_rows), ""]
    report = "\n".join(parts)
    print(report)

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "latest.md").write_text(report)
    (RESULTS_DIR / "latest.json").write_text(json.dumps({
        "date": started.isoformat(),
        "duration_secs": args.duration,
        "versions": versions,
        "results": {w: [asdict(r) for r in rs] for w, rs in results.items()},
        "in_process": {"status": ip_status, "rows": ip_rows},
    }, indent=2) + "\n")
    log(f"wrote {RESULTS_DIR.relative_to(ROOT)}/latest.md and latest.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
