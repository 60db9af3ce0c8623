#!/usr/bin/env python3
"""Load report: the field simulator (fieldsync-sim) against 1 and 3 replicas of `fieldsync serve`
behind nginx, on PostgreSQL and an S3-protocol store, at several numbers of phones; and the cost
of push and pull on an empty database against a region-scale one (`admin seed-region`).

Writes ops/load/report.md and ops/load/throughput.png (throughput and p99 latency against
concurrent phones). Latencies are nginx's `$request_time` of each push and pull, so they include
the balancer; throughput is the simulator's edits over its wall time, phones' own SQLite work
included.

    ops/load/run.py                      # 12, 24, 48 phones on 1 and 3 replicas
    ops/load/run.py --phones 12,24,48,96 --edits-per-phone 200
    ops/load/run.py --region             # also seed 1,000,000 households (once) and compare

Needs: PostgreSQL (FIELDSYNC_LOAD_PG, default postgres://postgres@127.0.0.1:5432/postgres, a role
that may create databases), nginx, and an S3-protocol server (FIELDSYNC_TEST_S3_ENDPOINT; when
unset, moto from PyPI is started on a free port). matplotlib is installed into
target/load-venv on first use.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
if not TARGET.is_absolute():
    TARGET = ROOT / TARGET
BIN = TARGET / "release" / "fieldsync"
SIM = TARGET / "release" / "fieldsync-sim"
# The phones' camera: a photo built by fieldsync_server::testing::photo (examples/test-photo).
PHOTO = TARGET / "load-camera.jpg"
VILLAGES = ["640104001002", "640104001003", "640104001005"]
PASSWORD = "load-password-1"
DATA_KEY = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
REGION_DB = "fieldsync_load_region"
NOTE = """
## Reading it

Here the replicas, PostgreSQL, moto, nginx and the simulated phones (each with its own SQLite
store) share two cores, so the machine, not the server, sets the ceiling: about 500 edits/s end
to end whatever the number of phones, and three replicas add no throughput but contention (three
processes' transactions queueing on the same rows, hence the higher push p99). What the runs do
show is that replicas behind a plain round-robin balancer stay correct under load and that a
region's worth of data costs push and pull little: the figures on a 25-million-record database
stay within 1.5× of the empty one. On separate machines the replicas' CPU adds up; PostgreSQL's
write rate is then the limit to watch (`fieldsync_http_request_duration_seconds` by route).
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_db(url, name):
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def psql(url, sql):
    out = subprocess.run(["psql", url, "-Atc", sql], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"psql: {out.stderr.strip()}")
    return out.stdout.strip()


def wait_http(url, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {seconds} s")


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100 * len(values) + 0.5)) - 1))
    return values[k]


class Stack:
    """Replicas on one database and bucket, nginx in front; stopped by `stop`."""

    def __init__(self, work, db_url, s3, replicas):
        self.work = Path(work)
        # nginx's workers drop to an unprivileged user: they must reach their temp dirs here.
        os.chmod(self.work, 0o755)
        self.procs = []
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith("FIELDSYNC_")
        }
        bucket = f"load-{int(time.time() * 1000)}"
        urllib.request.urlopen(urllib.request.Request(f"{s3}/{bucket}", method="PUT"))
        self.env.update(
            {
                "FIELDSYNC_DATABASE_URL": db_url,
                "FIELDSYNC_DATA_KEY": DATA_KEY,
                "FIELDSYNC_LOG": "warn",
                "FIELDSYNC_LIMITS__TRUST_FORWARDED_FOR": "true",
                "FIELDSYNC_LIMITS__LOGIN_FAILURES_PER_IP": "100000",
                "FIELDSYNC_BLOBS__BACKEND": "s3",
                "FIELDSYNC_BLOBS__S3__ENDPOINT": s3,
                "FIELDSYNC_BLOBS__S3__BUCKET": bucket,
                "FIELDSYNC_BLOBS__S3__REGION": "us-east-1",
                "FIELDSYNC_BLOBS__S3__ACCESS_KEY_ID": "test",
                "FIELDSYNC_BLOBS__S3__SECRET_ACCESS_KEY": "test",
                "FIELDSYNC_BLOBS__S3__PATH_STYLE": "true",
                "FIELDSYNC_DATA_DIR": str(self.work / "admin"),
                "RUST_BACKTRACE": "0",
            }
        )
        self.admin(["migrate"], top=True)
        self.upstreams = []
        for r in range(replicas):
            port = free_port()
            env = dict(self.env)
            env["FIELDSYNC_DATA_DIR"] = str(self.work / f"replica-{r}")
            env["FIELDSYNC_LISTEN"] = f"127.0.0.1:{port}"
            log = open(self.work / f"replica-{r}.log", "w")
            self.procs.append(
                subprocess.Popen([BIN, "serve"], env=env, stdout=log, stderr=log)
            )
            wait_http(f"http://127.0.0.1:{port}/readyz")
            self.upstreams.append(f"127.0.0.1:{port}")
        self.port = free_port()
        self.access_log = self.work / "nginx" / "nginx-access.log"
        (self.work / "nginx").mkdir(exist_ok=True)
        servers = "".join(
            f"    server {u} max_fails=3 fail_timeout=10s;\n" for u in self.upstreams
        )
        conf = (
            (Path(__file__).parent / "nginx-loopback.conf").read_text()
            .replace("@DIR@", str(self.work / "nginx"))
            .replace("@PORT@", str(self.port))
            .replace("@SERVERS@", servers.rstrip())
        )
        (self.work / "nginx.conf").write_text(conf)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.procs.append(
            subprocess.Popen(
                [nginx, "-c", self.work / "nginx.conf", "-p", self.work, "-g", "daemon off;"],
                stdout=subprocess.DEVNULL,
                stderr=open(self.work / "nginx.stderr", "w"),
            )
        )
        self.base = f"http://127.0.0.1:{self.port}"
        wait_http(f"{self.base}/readyz")

    def admin(self, args, stdin=None, top=False):
        cmd = [BIN] + ([] if top else ["admin"]) + args
        out = subprocess.run(cmd, env=self.env, input=stdin, capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"fieldsync {' '.join(args)}: {out.stderr.strip()}")
        return out.stdout

    def stop(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def run_sim(stack, phones, edits):
    per_village = max(2, phones // len(VILLAGES))
    users = ["username,role,display_name,divisions,starts_on,ends_on,password"]
    sim = ["username,password,village,reviewer"]
    for v, village in enumerate(VILLAGES):
        for i in range(per_village):
            role = "first_secretary" if i == 0 else "grid_worker"
            users.append(f"u{v}-{i},{role},,{village},2026-01-01,,{PASSWORD}")
            sim.append(f"u{v}-{i},{PASSWORD},{village},{'true' if i == 0 else 'false'}")
    (stack.work / "users.csv").write_text("\n".join(users) + "\n")
    (stack.work / "phones.csv").write_text("\n".join(sim) + "\n")
    stack.admin(["import-users", str(stack.work / "users.csv")])
    out = subprocess.run(
        [
            SIM, "--server", stack.base, "--phones", stack.work / "phones.csv",
            "--edits", str(edits), "--rounds", "10", "--households", "30",
            "--dir", stack.work / "sim", "--photo", PHOTO,
        ],
        capture_output=True, text=True,
    )
    if out.returncode != 0:
        keep = Path(tempfile.mkdtemp(prefix="fieldsync-load-failed-"))
        for f in stack.work.rglob("*.log"):
            shutil.copy(f, keep)
        raise SystemExit(f"fieldsync-sim failed (logs in {keep}):\n{out.stdout}\n{out.stderr}")
    first = out.stdout.splitlines()[0]  # "N phones, M villages, E edits, S syncs in T s"
    words = first.replace(",", "").split()
    made, seconds = int(words[4]), float(words[-2])
    push, pull = [], []
    for line in stack.access_log.read_text().splitlines():
        t, status, method, uri = line.split(" ", 3)
        if uri == "/v1/sync/push" and status == "200":
            push.append(float(t) * 1000)
        elif uri == "/v1/sync/pull" and status == "200":
            pull.append(float(t) * 1000)
    return {
        "phones": len(sim) - 1,
        "edits": made,
        "seconds": seconds,
        "edits_per_s": made / seconds,
        "pushes": len(push),
        "push_p50": percentile(push, 50),
        "push_p99": percentile(push, 99),
        "pulls": len(pull),
        "pull_p50": percentile(pull, 50),
        "pull_p99": percentile(pull, 99),
        "summary": out.stdout.strip(),
    }


def fresh_db(admin_url, name):
    psql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql(admin_url, f'CREATE DATABASE "{name}"')
    return with_db(admin_url, name)


def start_moto():
    venv = TARGET / "moto-venv"
    if not (venv / "bin" / "moto_server").exists():
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([venv / "bin" / "pip", "install", "-q", "moto[server]==5.*"], check=True)
    port = free_port()
    proc = subprocess.Popen(
        [venv / "bin" / "moto_server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_http(f"http://127.0.0.1:{port}/moto-api/")
    return proc, f"http://127.0.0.1:{port}"


def plot(results, path):
    venv = TARGET / "load-venv"
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([venv / "bin" / "pip", "install", "-q", "matplotlib"], check=True)
    script = """
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
results, out = json.loads(sys.argv[1]), sys.argv[2]
fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
for replicas in sorted({r["replicas"] for r in results}):
    rs = sorted((r for r in results if r["replicas"] == replicas), key=lambda r: r["phones"])
    label = f"{replicas} replica" + ("s" if replicas > 1 else "")
    a.plot([r["phones"] for r in rs], [r["edits_per_s"] for r in rs], marker="o", label=label)
    b.plot([r["phones"] for r in rs], [r["push_p99"] for r in rs], marker="o", label=label + ", push")
    b.plot([r["phones"] for r in rs], [r["pull_p99"] for r in rs], marker="x", linestyle="--", label=label + ", pull")
a.set_xlabel("concurrent phones"); a.set_ylabel("edits per second (end to end)"); a.set_title("Throughput")
b.set_xlabel("concurrent phones"); b.set_ylabel("p99 latency (ms, at nginx)"); b.set_title("p99 latency")
for ax in (a, b):
    ax.grid(True, alpha=0.3); ax.legend(); ax.set_ylim(bottom=0)
fig.tight_layout()
fig.savefig(out, dpi=110)
"""
    subprocess.run([venv / "bin" / "python", "-c", script, json.dumps(results), path], check=True)


def machine():
    cores = os.cpu_count()
    mem = ""
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) // 1024 // 1024} GiB"
    except OSError:
        pass
    return f"{cores} vCPU, {mem}, {platform.system()} {platform.release()}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--phones", default="12,24,48")
    ap.add_argument("--replicas", default="1,3")
    ap.add_argument("--edits-per-phone", type=int, default=150)
    ap.add_argument("--region", action="store_true")
    ap.add_argument("--region-households", type=int, default=1_000_000)
    ap.add_argument("--region-phones", type=int, default=24)
    ap.add_argument("--out", default=str(ROOT / "ops" / "load"))
    args = ap.parse_args()
    admin_url = os.environ.get("FIELDSYNC_LOAD_PG", "postgres://postgres@127.0.0.1:5432/postgres")

    subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "fieldsync-server", "--bin", "fieldsync",
         "--example", "test-photo", "-p", "fieldsync-client", "--bin", "fieldsync-sim"],
        cwd=ROOT, check=True,
    )
    subprocess.run([TARGET / "release" / "examples" / "test-photo", PHOTO], check=True)
    moto = None
    s3 = os.environ.get("FIELDSYNC_TEST_S3_ENDPOINT")
    if not s3:
        moto, s3 = start_moto()
    results, region = [], []
    try:
        for replicas in [int(x) for x in args.replicas.split(",")]:
            for phones in [int(x) for x in args.phones.split(",")]:
                with tempfile.TemporaryDirectory(prefix="fieldsync-load-") as work:
                    db = fresh_db(admin_url, "fieldsync_load")
                    stack = Stack(work, db, s3, replicas)
                    try:
                        r = run_sim(stack, phones, phones * args.edits_per_phone)
                    finally:
                        stack.stop()
                    r["replicas"] = replicas
                    print(f"{replicas} replica(s), {r['phones']} phones: {r['edits_per_s']:.0f} edits/s, "
                          f"push p50 {r['push_p50']:.0f} ms p99 {r['push_p99']:.0f} ms, "
                          f"pull p50 {r['pull_p50']:.0f} ms p99 {r['pull_p99']:.0f} ms", flush=True)
                    results.append(r)
        if args.region:
            for label in ["empty", "region"]:
                with tempfile.TemporaryDirectory(prefix="fieldsync-load-") as work:
                    if label == "empty":
                        db = fresh_db(admin_url, "fieldsync_load")
                    else:
                        db = with_db(admin_url, REGION_DB)
                        if psql(admin_url, f"SELECT 1 FROM pg_database WHERE datname = '{REGION_DB}'") != "1":
                            psql(admin_url, f'CREATE DATABASE "{REGION_DB}"')
                    stack = Stack(work, db, s3, 1)
                    try:
                        households = int(psql(db, "SELECT COUNT(*) FROM records WHERE entity = 'household'"))
                        if label == "region" and households < args.region_households:
                            started = time.time()
                            out = subprocess.run(
                                [BIN, "admin", "seed-region", "--households",
                                 str(args.region_households - households), "--members", "4",
                                 "--checks", "20", "--add"]
                                + sum((["--skip-village", v] for v in VILLAGES), []),
                                env=stack.env, text=True, stdout=subprocess.PIPE,
                            )
                            if out.returncode != 0:
                                raise SystemExit("seed-region failed")
                            print(out.stdout.strip(), f"({time.time() - started:.0f} s)", flush=True)
                            psql(db, "ANALYZE")
                        # The simulator's villages start empty in both: what differs is the rest.
                        psql(db, "DELETE FROM records WHERE scope IN ('" + "','".join(VILLAGES) + "')")
                        records = int(psql(db, "SELECT COUNT(*) FROM records"))
                        r = run_sim(stack, args.region_phones, args.region_phones * args.edits_per_phone)
                    finally:
                        stack.stop()
                    r["database"], r["records"] = label, records
                    print(f"{label} database ({records} records): {r['edits_per_s']:.0f} edits/s, "
                          f"push p50 {r['push_p50']:.0f} p99 {r['push_p99']:.0f} ms, "
                          f"pull p50 {r['pull_p50']:.0f} p99 {r['pull_p99']:.0f} ms", flush=True)
                    region.append(r)
    finally:
        if moto:
            moto.terminate()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if results:
        plot(results, out / "throughput.png")
    (out / "results.json").write_text(json.dumps({"runs": results, "region": region}, indent=2) + "\n")
    lines = [
        "# Load report",
        "",
        f"{datetime.date.today()}, {machine()}; PostgreSQL, S3 (moto), nginx, replicas and the",
        "simulated phones all on this one machine. Made by `ops/load/run.py`"
        + (" --region" if region else "") + ".",
        "",
        "Each run: a fresh database, the replicas behind nginx (no sticky sessions), then",
        "`fieldsync-sim` with the phones split over 3 villages, 30 households each,",
        f"{args.edits_per_phone} edits a phone over 10 rounds, offline periods, clocks off by up to",
        "two hours, one push answer in ten lost, a photo on a visit one round in four. Every run",
        "ended with every phone equal to the server and nothing lost (the simulator checks).",
        "Latency: nginx's time for each push and pull (200s). Throughput: edits over the",
        "simulator's wall time, phones' own work included.",
        "",
        "![throughput and p99 latency](throughput.png)",
        "",
        "| replicas | phones | edits | s | edits/s | pushes | push p50 ms | push p99 ms | pulls | pull p50 ms | pull p99 ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['replicas']} | {r['phones']} | {r['edits']} | {r['seconds']:.1f} | {r['edits_per_s']:.0f} | "
            f"{r['pushes']} | {r['push_p50']:.0f} | {r['push_p99']:.0f} | {r['pulls']} | {r['pull_p50']:.0f} | {r['pull_p99']:.0f} |"
        )
    if region:
        e, g = region
        lines += [
            "",
            "## Cost against data size",
            "",
            f"One replica, {e['phones']} phones, the same simulation on an empty database and on one",
            f"seeded by `fieldsync admin seed-region` ({g['records']:,} records: households, 4 members",
            "and 20 checks each, over every other village of Ningxia). The simulator's three villages",
            "start empty in both, so the difference is what the rest of the region costs.",
            "",
            "| database | records | edits/s | push p50 ms | push p99 ms | pull p50 ms | pull p99 ms |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in region:
            lines.append(
                f"| {r['database']} | {r['records']:,} | {r['edits_per_s']:.0f} | {r['push_p50']:.0f} | "
                f"{r['push_p99']:.0f} | {r['pull_p50']:.0f} | {r['pull_p99']:.0f} |"
            )
        ratio = lambda k: g[k] / e[k] if e[k] else float("nan")
        lines += [
            "",
            f"Region / empty: push p50 ×{ratio('push_p50'):.2f}, push p99 ×{ratio('push_p99'):.2f}, "
            f"pull p50 ×{ratio('pull_p50'):.2f}, pull p99 ×{ratio('pull_p99'):.2f}, "
            f"throughput ×{g['edits_per_s'] / e['edits_per_s']:.2f}.",
        ]
    lines += NOTE.splitlines()
    (out / "report.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'report.md'}")


if __name__ == "__main__":
    main()
