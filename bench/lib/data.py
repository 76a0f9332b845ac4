#!/usr/bin/env python3
"""Data benchmark (standard library only). Run through bench/data.

Outpost's D1 and KV bindings (SQLite under the hood) against Node.js +
better-sqlite3, on the same four workloads, each an HTTP server on 127.0.0.1
loaded by wrk:

- d1-read:  GET /item?id=N (N uniform over 10,000 seeded rows)
            -> SELECT * FROM items WHERE id = ? -> the row as JSON;
- d1-write: POST /item {"name","price"}
            -> INSERT INTO items(name, price) VALUES(?, ?) -> {"id": NEW_ID};
- kv-get:   GET /kv?key=kN (N uniform over 10,000 seeded keys, 100-byte values)
            -> env.KV.get(key) -> the value as text;
- kv-put:   POST /kv with 100 bytes -> env.KV.put("w-" + UUID, bytes) -> 204.
            Node runs the statements Outpost's KV store runs, on a table
            kv(key TEXT PRIMARY KEY, value BLOB, expiration INTEGER, metadata TEXT).

Runtimes:

- outpost-dev:   `outpost dev --config wrangler.toml`; the database and the
                 namespace are .outpost/d1/<id>.sqlite and .outpost/kv/<id>.sqlite
                 beside the config (synchronous=NORMAL);
- outpost-serve: `outpost serve` (control plane and node in one process) and
                 `outpost deploy`; the worker uses the control plane's primaries
                 directly (synchronous=NORMAL), requests carry
                 `Host: databench.localhost`;
- node:          bench/workloads/data/node.js, http.createServer and
                 better-sqlite3 (npm, in bench/.peers) on a WAL database with
                 synchronous=NORMAL.

Every case starts from a fresh directory whose database is seeded with
bench/workloads/data/schema.sql (Outpost: `outpost db execute DB --file`;
Node: db.exec). The KV cases then seed their keys through the server's own
POST /kv/seed route (neither `outpost kv` nor the control API has a bulk
put), before and outside the timed runs. The server helpers (ports, process
groups, CPU and RSS from /proc, wrk parsing, stopping) are
bench/lib/bench.py's. Prints one table and writes bench/results/data.md and
data.json.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (the HTTP benchmark driver: build, wrk, process and /proc helpers)

DATA_DIR = bench.WORKLOADS_DIR / "data"
SCRATCH = bench.SCRATCH_DIR / "data"
RUNTIMES = ["outpost-dev", "outpost-serve", "node"]
WORKLOADS = ["d1-read", "d1-write", "kv-get", "kv-put"]
WRK_SCRIPT = {"d1-read": "read.lua", "d1-write": "write.lua", "kv-get": "kv-get.lua", "kv-put": "kv-put.lua"}
WRK_PATH = {"d1-read": "/item", "d1-write": "/item", "kv-get": "/kv", "kv-put": "/kv"}
WORKER_HOST = "databench.localhost"  # `name` in wrangler.toml + serve's default domain
SEED_ROWS = 10_000
WRITE_BODY = {"name": "widget", "price": 9.5}  # the same body as write.lua
SEED_KEYS = 10_000
# Keys per POST /kv/seed. A request may use 50 ms of CPU, and on a loaded
# machine a put can take a few ms (a WAL checkpoint), so batches stay small.
SEED_BATCH = 25
PUT_BODY = b"v" * 100  # the same body as kv-put.lua
START_TIMEOUT_S = 30.0


def log(msg: str) -> None:
    print(f"[data] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ setup


def better_sqlite3_version(node: str) -> str | None:
    """The installed better-sqlite3's version if it loads under this node, else None."""
    code = ("const r=require('module').createRequire(process.argv[1]+'/package.json');"
            "r('better-sqlite3');console.log(r('better-sqlite3/package.json').version)")
    try:
        p = subprocess.run([node, "-e", code, str(bench.PEERS_DIR)], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return p.stdout.strip() or None if p.returncode == 0 else None


def ensure_node_peer() -> dict:
    """node on PATH plus better-sqlite3 in bench/.peers; {bin, version} or {error}."""
    node = shutil.which("node")
    node_ver = bench.probe_version(node) if node else None
    if not node_ver:
        return {"error": "unavailable (no node on PATH)"}
    ver = better_sqlite3_version(node)
    if not ver:
        if not shutil.which("npm"):
            return {"error": "unavailable (npm not found to install better-sqlite3)"}
        bench.PEERS_DIR.mkdir(parents=True, exist_ok=True)
        pkg_json = bench.PEERS_DIR / "package.json"
        if not pkg_json.exists():
            pkg_json.write_text('{\n  "private": true,\n  "description": "bench peers (generated)"\n}\n')
        # Without a prebuilt binary for this node, npm builds it with node-gyp
        # (python3, make and a C++ compiler; a minute or two).
        bench.npm_install(["better-sqlite3"])
        ver = better_sqlite3_version(node)
        if not ver:
            return {"error": "unavailable (npm install better-sqlite3 failed or it does not load)"}
    return {"bin": node, "version": f"node {node_ver} + better-sqlite3 {ver}"}


def run_cmd(cmd: list[str], cwd: Path, log_path: Path, timeout: float = 120) -> None:
    """Runs a setup command, appending its output to the case's log; raises on failure."""
    # The throwaway admin token is not written to logs or notes.
    shown = " ".join("***" if i and cmd[i - 1] == "--token" else c for i, c in enumerate(cmd))
    with open(log_path, "a") as logf:
        logf.write("$ " + shown + "\n")
        logf.flush()
        p = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                           timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"`{shown}` exited with {p.returncode}")


# ------------------------------------------------------------------- HTTP


def request(port: int, method: str, path: str, host: str | None, body: bytes | None = None,
            timeout: float = 5.0, ctype: str = "application/json") -> tuple[int, str, bytes]:
    """One request over a fresh connection: (status, content-type, body). Raises OSError."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"host": host or f"127.0.0.1:{port}"}
        if body is not None:
            headers["content-type"] = ctype
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        return r.status, r.getheader("content-type") or "", r.read()
    except http.client.HTTPException as e:
        raise OSError(str(e)) from e
    finally:
        conn.close()


def seed_value(i: int) -> bytes:
    """The value seeded under kI, as worker.js and node.js build it: exactly 100 bytes."""
    return f"value of k{i} ".ljust(100, ".").encode()


def check(workload: str, port: int, host: str | None) -> str | None:
    """The same answer from every runtime, or why not."""
    if workload == "kv-get":
        status, ctype, body = request(port, "GET", "/kv?key=k42", host)
        if status != 200:
            return f"HTTP {status}: {body[:120]!r}"
        if not ctype.startswith("text/plain"):
            return f"content-type {ctype!r}"
        return None if body == seed_value(42) else f"{body[:120]!r}, expected {seed_value(42)!r}"
    if workload == "kv-put":
        status, _, body = request(port, "POST", "/kv", host, PUT_BODY, ctype="application/octet-stream")
        return None if status == 204 and not body else f"HTTP {status}: {body[:120]!r}, expected 204"
    if workload == "d1-read":
        status, ctype, body = request(port, "GET", "/item?id=42", host)
        want = {"id": 42, "name": "item 42", "price": 42.5}
    else:
        status, ctype, body = request(port, "POST", "/item", host, json.dumps(WRITE_BODY).encode())
        want = {"id": SEED_ROWS + 1}
    if status != 200:
        return f"HTTP {status}: {body[:120]!r}"
    if "application/json" not in ctype:
        return f"content-type {ctype!r}"
    try:
        got = json.loads(body)
    except ValueError:
        return f"not JSON: {body[:120]!r}"
    return None if got == want else f"{got!r}, expected {want!r}"


def seed_kv(port: int, host: str | None) -> None:
    """Puts k1..k10000 through the server's binding, in batches; raises on a failure."""
    for start in range(1, SEED_KEYS + 1, SEED_BATCH):
        end = min(start + SEED_BATCH - 1, SEED_KEYS)
        # A batch cut short by the CPU limit is simply sent again: its puts
        # write the same values, so the ones already done are only redone.
        for _attempt in range(3):
            status, _, body = request(port, "POST", f"/kv/seed?from={start}&to={end}", host, b"", timeout=30.0)
            if status == 204:
                break
        else:
            raise RuntimeError(f"seeding k{start}..k{end}: HTTP {status}: {body[:120]!r}")


def written_keys(port: int, host: str | None) -> int | None:
    """How many keys the puts stored, counted page by page through the server."""
    total, cursor = 0, ""
    try:
        for _ in range(10_000):
            path = "/kv/count" + (f"?cursor={cursor}" if cursor else "")
            status, _, body = request(port, "GET", path, host, timeout=30.0)
            if status != 200:
                return None
            page = json.loads(body)
            total += page["keys"]
            if not page["cursor"]:
                return total
            cursor = page["cursor"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def last_id(port: int, host: str | None) -> int | None:
    """POSTs one more item; its id says how many rows the writes inserted."""
    try:
        status, _, body = request(port, "POST", "/item", host, json.dumps(WRITE_BODY).encode())
        return json.loads(body)["id"] if status == 200 else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def wait_ready(proc: subprocess.Popen, port: int, path: str, host: str | None) -> str | None:
    """Polls until PORT answers PATH (any status); None, or why it never did."""
    deadline = time.monotonic() + START_TIMEOUT_S
    err = "no response"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"server exited with code {proc.returncode}"
        try:
            request(port, "GET", path, host, timeout=2.0)
            return None
        except OSError as e:
            err = type(e).__name__
        time.sleep(0.01)
    return f"no answer within {START_TIMEOUT_S:.0f}s: {err}"


def run_wrk(wrk: str, port: int, workload: str, host: str | None, conns: int, secs: int,
            latency: bool) -> tuple[int, str]:
    extra = ["-s", str(DATA_DIR / WRK_SCRIPT[workload])]
    if host:
        extra += ["-H", f"Host: {host}"]
    return bench.run_wrk(wrk, port, secs, latency, conns=conns, path=WRK_PATH[workload], extra=extra)


# --------------------------------------------------------------- one case


def start(runtime: str, binary: str, case_dir: Path, log_path: Path, port: int,
          threads: int | None) -> tuple[subprocess.Popen, str | None]:
    """Seeds the case's database and starts its server; (process, Host header or None)."""
    config = case_dir / "wrangler.toml"
    thread_args = ["--threads", str(threads)] if threads else []
    if runtime == "node":
        db = case_dir / "items.sqlite"
        run_cmd([binary, str(DATA_DIR / "node.js"), "seed", str(bench.PEERS_DIR), str(db),
                 str(DATA_DIR / "schema.sql")], case_dir, log_path)
        cmd = [binary, str(DATA_DIR / "node.js"), "serve", str(bench.PEERS_DIR), str(db), str(port)]
        host = None
    else:
        shutil.copyfile(DATA_DIR / "wrangler.toml", config)
        shutil.copyfile(DATA_DIR / "worker.js", case_dir / "worker.js")
        if runtime == "outpost-dev":
            run_cmd([binary, "db", "execute", "DB", "--local", "--config", str(config),
                     "--file", str(DATA_DIR / "schema.sql")], case_dir, log_path)
            cmd = [binary, "dev", "--config", str(config), "--port", str(port), *thread_args]
            host = None
        else:
            control_port = bench.free_port()
            cmd = [binary, "serve", "--dir", str(case_dir / "state"), "--port", str(port),
                   "--control-port", str(control_port), *thread_args]
            host = WORKER_HOST
    with open(log_path, "a") as logf:
        logf.write("$ " + " ".join(cmd) + "\n")
        logf.flush()
        proc = subprocess.Popen(cmd, cwd=case_dir, env=bench.server_env("node"), stdin=subprocess.DEVNULL,
                                stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
    if runtime == "outpost-serve":
        try:
            setup_serve(proc, binary, case_dir, config, control_port, log_path)
        except BaseException:
            bench.stop_group(proc)
            raise
    return proc, host


def setup_serve(proc: subprocess.Popen, binary: str, case_dir: Path, config: Path, control_port: int,
                log_path: Path) -> None:
    """Deploys the worker to a fresh `outpost serve` and seeds its database through the
    control API, as an operator would."""
    control = f"http://127.0.0.1:{control_port}"
    token_file = case_dir / "state" / "admin-token"
    deadline = time.monotonic() + START_TIMEOUT_S
    while not (token_file.exists() and token_file.read_text().strip()):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"outpost serve wrote no {token_file.name} (see log)")
        time.sleep(0.02)
    if err := wait_ready(proc, control_port, "/v1/nodes", None):
        raise RuntimeError(f"control API: {err}")
    remote = ["--config", str(config), "--control", control, "--token", token_file.read_text().strip()]
    run_cmd([binary, "deploy", *remote], case_dir, log_path)
    run_cmd([binary, "db", "execute", "DB", *remote, "--file", str(DATA_DIR / "schema.sql")],
            case_dir, log_path)


def bench_case(runtime: str, binary: str, workload: str, wrk: str, duration: int, conns: int,
               threads: int | None) -> bench.Row:
    row = bench.Row(runtime, workload)
    case_dir = SCRATCH / f"{runtime}-{workload}"
    shutil.rmtree(case_dir, ignore_errors=True)
    case_dir.mkdir(parents=True)
    bench.LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = bench.LOG_DIR / f"data-{runtime}-{workload}.log"
    log_path.write_text("")
    row.log = str(log_path.relative_to(bench.BENCH))
    port = bench.free_port()
    log(f"{runtime}/{workload}: seeding and starting on 127.0.0.1:{port}")
    proc = None
    try:
        try:
            proc, host = start(runtime, binary, case_dir, log_path, port, threads)
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
            row.status, row.note = "failed", f"setup: {e} (see {row.log})"
            return row
        if err := wait_ready(proc, port, "/item?id=1", host):
            row.status, row.note = "failed", f"{err} (see {row.log})"
            return row
        if workload.startswith("kv-"):
            try:
                seed_kv(port, host)
            except (RuntimeError, OSError) as e:
                row.status, row.note = "failed", f"setup: {e}"
                return row
        try:
            bad = check(workload, port, host)
        except OSError as e:
            bad = f"check request failed: {e}"
        if bad:
            row.status, row.note = "failed", f"wrong response: {bad}"
            return row

        run_wrk(wrk, port, workload, host, conns, bench.WARMUP_SECS, latency=False)
        cpu0 = bench.group_cpu_ticks(proc.pid)
        rc, out = run_wrk(wrk, port, workload, host, conns, duration, latency=True)
        cpu1 = bench.group_cpu_ticks(proc.pid)
        rss = bench.group_rss_kib(proc.pid)
        with open(log_path, "a") as logf:
            logf.write("\n--- wrk (measured run) ---\n" + out)
        if proc.poll() is not None:
            row.status, row.note = "failed", f"server exited (code {proc.returncode}) during the run"
            return row
        parsed = bench.parse_wrk(out)
        if rc != 0 or not parsed["rps"] or not parsed["requests"]:
            row.status, row.note = "failed", f"wrk exit {rc}, no result (see {row.log})"
            return row
        row.rps, row.requests = parsed["rps"], parsed["requests"]
        row.p50_ms, row.p99_ms = parsed["p50_ms"], parsed["p99_ms"]
        row.non2xx, row.socket_errors = parsed["non2xx"], parsed["socket_errors"]
        row.cpu_us_per_req = (cpu1 - cpu0) / bench.CLK_TCK * 1e6 / parsed["requests"]
        row.rss_mib = rss / 1024.0
        notes = []
        if row.non2xx:
            notes.append(f"{row.non2xx} non-2xx responses")
        if row.socket_errors:
            notes.append(f"{row.socket_errors} socket errors")
        if workload == "d1-write":
            # Every answered write must be a row: the id of one more insert
            # bounds the rows written since the seed (warm-up included).
            after = last_id(port, host)
            if after is None:
                notes.append("the final check insert failed")
            elif after - SEED_ROWS - 2 < row.requests - row.non2xx:
                notes.append(f"only {after - SEED_ROWS - 2} rows inserted for {row.requests} answered writes")
        if workload == "kv-put":
            # The same account for KV: every answered put must be a key (the
            # check put and the warm-up's add to the count, never subtract).
            keys = written_keys(port, host)
            if keys is None:
                notes.append("counting the written keys failed")
            elif keys - 1 < row.requests - row.non2xx:
                notes.append(f"only {keys - 1} keys stored for {row.requests} answered puts")
        row.note = "; ".join(notes)
        return row
    finally:
        if proc is not None:
            bench.stop_server(proc, port, row, f"{runtime}/{workload}")
        shutil.rmtree(case_dir, ignore_errors=True)


# ------------------------------------------------------------------ output

HEADER = ("| workload | runtime | req/s | p50 ms | p99 ms | server CPU µs/req | RSS MiB |\n"
          "|---|---|---:|---:|---:|---:|---:|")


def table(rows: list[bench.Row]) -> str:
    lines = [HEADER]
    notes = []
    for r in rows:
        if r.status == "ok":
            cells = [bench.fmt(r.rps, 0), bench.fmt(r.p50_ms, 2), bench.fmt(r.p99_ms, 2),
                     bench.fmt(r.cpu_us_per_req, 1), bench.fmt(r.rss_mib, 1)]
        else:
            cells = [r.status] + ["–"] * 4
        lines.append(f"| {r.workload} | {r.runtime} | " + " | ".join(cells) + " |")
        if r.note:
            notes.append(f"- {r.workload} / {r.runtime}: {r.note}")
    return "\n".join(lines + ([""] + notes if notes else []))


def main() -> int:
    ap = argparse.ArgumentParser(prog="bench/data",
                                 description="D1 and KV on Outpost vs Node.js + better-sqlite3, over HTTP.")
    ap.add_argument("--duration", type=int, default=5, metavar="SECS", help="measured wrk run per case (default 5)")
    ap.add_argument("--connections", type=int, default=8, metavar="N", help="wrk connections (default 8)")
    ap.add_argument("--threads", type=int, default=None, metavar="N",
                    help="outpost executor threads (default: outpost's, one per core)")
    ap.add_argument("--only", type=lambda v: bench.csv_list(v, RUNTIMES, "runtime"), default=RUNTIMES,
                    metavar="R[,R]", help="runtimes: " + ",".join(RUNTIMES))
    ap.add_argument("--workloads", type=lambda v: bench.csv_list(v, WORKLOADS, "workload"), default=WORKLOADS,
                    metavar="W[,W]", help="workloads: " + ",".join(WORKLOADS))
    ap.add_argument("--no-build", action="store_true", help="skip cargo build --release -p outpost")
    args = ap.parse_args()
    if args.duration < 1 or args.connections < 1 or (args.threads is not None and args.threads < 1):
        ap.error("--duration, --connections and --threads must be at least 1")
    if sys.platform != "linux":
        sys.exit("bench/data: needs Linux (/proc)")
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: sys.exit(128 + signum))
    if not bench.become_subreaper():
        log("warning: could not become a child subreaper; daemonised strays may go unnoticed")

    wants_outpost = any(r.startswith("outpost") for r in args.only)
    build_note = bench.build_outpost() if wants_outpost and not args.no_build else None
    wrk = bench.ensure_wrk()
    bins: dict[str, str] = {}
    status: dict[str, str] = {}
    versions: dict[str, str] = {}
    if wants_outpost:
        exe = bench.cargo_target_dir() / "release" / "outpost"
        if exe.is_file() and os.access(exe, os.X_OK):
            versions["outpost"] = bench.probe_version(exe) or "version unknown"
            for r in args.only:
                if r.startswith("outpost"):
                    bins[r] = str(exe)
        else:
            status.update({r: "not built" for r in args.only if r.startswith("outpost")})
    if "node" in args.only:
        peer = ensure_node_peer()
        if "error" in peer:
            status["node"] = "unavailable"
            log(f"node: {peer['error']}")
        else:
            bins["node"], versions["node"] = peer["bin"], peer["version"]

    started = _dt.datetime.now().astimezone()
    load = bench.machine_line()
    rows: list[bench.Row] = []
    for workload in args.workloads:
        for runtime in args.only:
            if runtime in status:
                row = bench.Row(runtime, workload, status=status[runtime], note=build_note or "")
            else:
                row = bench_case(runtime, bins[runtime], workload, wrk, args.duration, args.connections,
                                 args.threads)
                if runtime.startswith("outpost") and build_note:
                    row.note = (row.note + "; " if row.note else "") + build_note + " (stale binary?)"
            rows.append(row)

    threads = f"`--threads {args.threads}`" if args.threads else "executor threads: Outpost's default, one per core"
    text = "\n".join([
        "# Outpost data benchmark (D1 and KV vs better-sqlite3)",
        "",
        f"- date: {started.strftime('%Y-%m-%d %H:%M:%S %Z')}",
        f"- machine: {load} (at start)",
        f"- load: `wrk -t{bench.WRK_THREADS} -c{args.connections} -d{args.duration}s --latency` after a "
        f"{bench.WARMUP_SECS}s warm-up, all on 127.0.0.1; d1-read: GET /item?id=N, N uniform over "
        f"{SEED_ROWS:,} rows; d1-write: POST /item, one INSERT each; kv-get: GET /kv?key=kN, N uniform "
        f"over {SEED_KEYS:,} keys of 100 bytes; kv-put: POST /kv, one put of 100 bytes under a new key each",
        "- outpost-dev: `outpost dev --config`; outpost-serve: `outpost serve` (embedded control plane "
        "and node, the worker on the control plane's primaries) + `outpost deploy`; both SQLite WAL, "
        f"synchronous=NORMAL; {threads}",
        "- node: one process, http.createServer + better-sqlite3, WAL, synchronous=NORMAL, statements "
        "prepared once; KV as the table and statements of Outpost's KV store",
        "- server CPU µs/req: utime+stime of the server's process group over the measured run / requests; "
        "RSS: VmRSS after the run",
        "- versions: " + ", ".join(f"{k} `{v}`" for k, v in versions.items()),
        "",
        table(rows),
        "",
    ])
    print(text)
    bench.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (bench.RESULTS_DIR / "data.md").write_text(text)
    (bench.RESULTS_DIR / "data.json").write_text(json.dumps({
        "date": started.isoformat(),
        "machine": load,
        "duration_secs": args.duration,
        "connections": args.connections,
        "threads": args.threads,
        "versions": versions,
        "rows": [asdict(r) for r in rows],
    }, indent=2) + "\n")
    log(f"wrote {bench.RESULTS_DIR.relative_to(bench.ROOT)}/data.md and data.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
