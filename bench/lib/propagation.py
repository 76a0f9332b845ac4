#!/usr/bin/env python3
"""Deploy propagation benchmark (standard library only). Run through bench/propagation.

For each fleet size N (default 3 and 10): start a control plane
(`outpost serve --control-only`) and N edge nodes (`outpost serve --control
... --threads 1`) on 127.0.0.1, all from the release binary; then deploy a
worker 20 times. Each deploy uploads a new bundle (its source names the
deploy, so every deploy is a new bundle that nodes must fetch, verify and
compile) and creates a version through the control API. The clock starts when
the control plane acknowledges the version (the POST returns) and stops when
every node answers `GET /` with `Host: <worker>.localhost` with the new
version's text. One thread per node polls it, a new connection per request,
about every 2 ms. Prints p50/p99/max per N and writes
bench/results/propagation.md and .json.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (the HTTP benchmark driver: build and target-dir helpers)

WORKER = "propagation"
POLL_INTERVAL_S = 0.002
DEPLOY_TIMEOUT_S = 30.0
START_TIMEOUT_S = 30.0
MAGIC = b"outpost-bundle\nv1\n"


def log(msg: str) -> None:
    print(f"[propagation] {msg}", file=sys.stderr, flush=True)


def wire_bundle(entry: str, modules: dict[str, str]) -> bytes:
    """The canonical wire format of crates/runtime/src/wire.rs."""

    def field(b: bytes) -> bytes:
        return struct.pack(">I", len(b)) + b

    out = MAGIC + field(entry.encode()) + struct.pack(">I", len(modules))
    for name in sorted(modules, key=lambda n: n.encode()):
        out += field(name.encode()) + field(modules[name].encode())
    return out


class Proc:
    """An `outpost serve` process whose stdout lines are collected by a thread."""

    def __init__(self, args: list[str], cwd: Path, log_path: Path):
        self.log = open(log_path, "w")
        self.p = subprocess.Popen(
            args, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=self.log, text=True, start_new_session=True,
        )
        self.lines: list[str] = []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.p.stdout
        for line in self.p.stdout:
            self.log.write(line)
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_line(self, needle: str) -> str:
        deadline = time.monotonic() + START_TIMEOUT_S
        with self.cond:
            while True:
                for line in self.lines:
                    if needle in line:
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.p.poll() is not None:
                    raise RuntimeError(f"no line with {needle!r} from {self.p.args}: {self.lines}")
                self.cond.wait(left)

    def stop(self) -> None:
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
                self.p.wait(3)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.p.wait()
        self.log.close()


def api(base: str, method: str, path: str, token: str, body: bytes = b"",
        headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(base + path, data=body if method != "GET" else None, method=method)
    req.add_header("authorization", f"Bearer {token}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def get_body(port: int, host: str) -> bytes | None:
    """GET / with the given Host over a fresh connection; the body, or None on failure."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(f"GET / HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n".encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        return None
    if b"transfer-encoding: chunked" in head.lower():
        body = bench.dechunk(body)
    return body


class Fleet:
    def __init__(self, exe: str, n: int, scratch: Path):
        self.procs: list[Proc] = []
        self.scratch = scratch
        control = self._spawn([exe, "serve", "--control-only", "--dir", "control", "--control-port", "0"], "control")
        self.base = control.wait_line("Control API on").split(" on ", 1)[1].strip().rstrip("/")
        token_path = control.wait_line("token in").split(" in ", 1)[1].split(" ")[0]
        self.admin = Path(token_path).read_text().strip()
        status, body = api(self.base, "POST", "/v1/tokens", self.admin,
                           json.dumps({"name": "nodes", "scope": "node"}).encode(),
                           {"content-type": "application/json"})
        if status != 201:
            raise RuntimeError(f"creating the node token: {status} {body!r}")
        node_token = json.loads(body)["token"]
        self.ports: list[int] = []
        nodes = [
            self._spawn([exe, "serve", "--dir", f"node-{i}", "--port", "0", "--threads", "1",
                         "--region", f"region-{i}", "--control", self.base, "--token", node_token], f"node-{i}")
            for i in range(n)
        ]
        for node in nodes:
            line = node.wait_line("Ready on")
            self.ports.append(int(line.rsplit(":", 1)[1].strip().rstrip("/")))
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            _, body = api(self.base, "GET", "/v1/nodes", self.admin)
            if sum(1 for x in json.loads(body) if x.get("online")) >= n:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"only some of {n} nodes came online: {body!r}")
            time.sleep(0.05)

    def _spawn(self, args: list[str], name: str) -> Proc:
        p = Proc(args, self.scratch, self.scratch / f"{name}.log")
        self.procs.append(p)
        return p

    def deploy(self, text: str) -> tuple[int, float]:
        """Uploads a bundle answering `text` and activates it; returns (version, ack time)."""
        src = "export default { fetch() { return new Response(%s) } };\n" % json.dumps(text)
        wire = wire_bundle("index.js", {"index.js": src})
        digest = hashlib.sha256(wire).hexdigest()
        status, body = api(self.base, "PUT", f"/v1/bundles/{digest}", self.admin, wire,
                           {"content-type": "application/vnd.outpost.bundle",
                            "x-outpost-bundle-sha256": digest})
        if status not in (200, 201):
            raise RuntimeError(f"bundle upload: {status} {body!r}")
        status, body = api(self.base, "POST", f"/v1/workers/{WORKER}/versions", self.admin,
                           json.dumps({"bundle": digest, "vars": {}}).encode(),
                           {"content-type": "application/json"})
        acked = time.monotonic()
        if status not in (200, 201):
            raise RuntimeError(f"creating the version: {status} {body!r}")
        return json.loads(body)["version"], acked

    def wait_all_serve(self, text: str, acked: float) -> float:
        """Seconds from `acked` until every node serves `text`."""
        want = text.encode()
        host = f"{WORKER}.localhost"
        done: list[float | None] = [None] * len(self.ports)

        def poll(i: int, port: int) -> None:
            deadline = acked + DEPLOY_TIMEOUT_S
            while time.monotonic() < deadline:
                if get_body(port, host) == want:
                    done[i] = time.monotonic()
                    return
                time.sleep(POLL_INTERVAL_S)

        threads = [threading.Thread(target=poll, args=(i, p)) for i, p in enumerate(self.ports)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if any(d is None for d in done):
            missing = [i for i, d in enumerate(done) if d is None]
            raise RuntimeError(f"nodes {missing} did not serve {text!r} within {DEPLOY_TIMEOUT_S} s")
        return max(done) - acked  # type: ignore[type-var]

    def stop(self) -> None:
        for p in reversed(self.procs):
            p.stop()


def percentile(xs: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(-(-q * len(s) // 100)) - 1))
    return s[k]


def run_size(exe: str, n: int, deploys: int) -> dict:
    scratch = Path(tempfile.mkdtemp(prefix=f"outpost-propagation-{n}-"))
    log(f"{n} nodes: starting the fleet in {scratch}")
    fleet = Fleet(exe, n, scratch)
    try:
        # One unmeasured deploy: the worker's first version and route.
        _, acked = fleet.deploy("warm-up")
        fleet.wait_all_serve("warm-up", acked)
        times = []
        for i in range(deploys):
            text = f"deploy {i + 1} of {n}-node run"
            version, acked = fleet.deploy(text)
            t = fleet.wait_all_serve(text, acked)
            times.append(t)
            log(f"{n} nodes: version {version} on all nodes after {t * 1000:.1f} ms")
    finally:
        fleet.stop()
    shutil.rmtree(scratch, ignore_errors=True)
    ms = [t * 1000 for t in times]
    return {"nodes": n, "deploys": deploys, "p50_ms": percentile(ms, 50), "p99_ms": percentile(ms, 99),
            "min_ms": min(ms), "max_ms": max(ms), "samples_ms": [round(x, 2) for x in ms]}


def main() -> int:
    ap = argparse.ArgumentParser(prog="bench/propagation",
                                 description="Deploy acknowledged -> all N nodes serve it, on 127.0.0.1.")
    ap.add_argument("--nodes", default="3,10", help="fleet sizes, comma-separated (default 3,10)")
    ap.add_argument("--deploys", type=int, default=20, help="measured deploys per size (default 20)")
    ap.add_argument("--no-build", action="store_true", help="skip cargo build --release -p outpost")
    args = ap.parse_args()
    sizes = [int(x) for x in args.nodes.split(",") if x]
    if not sizes or min(sizes) < 1 or args.deploys < 1:
        ap.error("--nodes needs positive sizes and --deploys at least 1")
    if not args.no_build and bench.build_outpost():
        log("build failed; using the existing binary if there is one")
    exe = bench.cargo_target_dir() / "release" / "outpost"
    if not exe.is_file():
        sys.exit(f"bench/propagation: {exe} does not exist (build it with cargo build --release -p outpost)")
    started = _dt.datetime.now().astimezone()
    load = bench.machine_line()
    rows = [run_size(str(exe), n, args.deploys) for n in sizes]
    lines = [
        "# Outpost deploy propagation",
        "",
        f"- date: {started.strftime('%Y-%m-%d %H:%M:%S %Z')}",
        f"- machine: {load} (at start)",
        f"- binary: `{exe}` ({bench.probe_version(exe) or 'version unknown'})",
        "- time from the control plane acknowledging a new version (POST /v1/workers/NAME/versions "
        f"returns) to every node serving it to `GET /` with its Host header; {args.deploys} deploys per "
        f"fleet, each a new bundle; nodes polled about every {POLL_INTERVAL_S * 1000:.0f} ms; "
        "control plane and nodes (`--threads 1`) on 127.0.0.1",
        "- p99 is the nearest-rank 99th percentile, which over 20 samples is the slowest deploy",
        "",
        "| nodes | deploys | p50 ms | p99 ms | min ms | max ms |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['nodes']} | {r['deploys']} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
                     f"{r['min_ms']:.1f} | {r['max_ms']:.1f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    bench.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (bench.RESULTS_DIR / "propagation.md").write_text(text)
    (bench.RESULTS_DIR / "propagation.json").write_text(json.dumps(
        {"date": started.isoformat(), "machine": load, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
