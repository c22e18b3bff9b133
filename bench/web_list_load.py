"""/annotations for a user with 1,000 jobs under 32 concurrent connections (wrk, loopback).

Peers in the same run: /healthz on the same gunicorn (no AWS calls), the ceiling of the
web tier itself; and the page's one DynamoDB query (JobStore.list_for_user, the same
code) sent straight to moto server from 32 threads, the ceiling of the local backend.

    .venv/bin/python bench/web_list_load.py [--duration 20]
Goal (issue 2): p99 <= 150 ms; requests per second reported.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

from _common import DevStack, User, bench_stack, moto_client, options


def wrk(url: str, cookie: str, duration: int) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{duration}s", "--latency", "-H", f"Cookie: {cookie}", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout

    def found(pattern: str) -> re.Match[str]:
        match = re.search(pattern, out)
        if match is None:
            raise RuntimeError(f"wrk printed no {pattern!r}:\n{out}")
        return match

    def ms(label: str) -> float:
        value, unit = found(rf"{label}\s+([\d.]+)(us|ms|s)").groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    rps = float(found(r"Requests/sec:\s+([\d.]+)").group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": ms("50%"), "p99": ms("99%"), "errors": int(non2xx.group(1)) if non2xx else 0}


def main() -> int:
    args = options(duration=20, jobs=1000)
    if not shutil.which("wrk"):
        print("wrk is not installed (apt-get install wrk; make bench installs it)")
        return 1
    with bench_stack(GAS_WEB_WORKERS=str((os.cpu_count() or 1) * 2)) as stack:
        user = User(stack.url).sign_in()
        user_id = _user_id(stack, user)
        _seed_jobs(stack, user_id, args.jobs)
        cookie = "; ".join(f"{c.name}={c.value}" for c in user.http.cookies)
        listing = wrk(f"{stack.url}/annotations", cookie, args.duration)
        health = wrk(f"{stack.url}/healthz", cookie, args.duration)
        backend = query_load(stack, user_id, args.duration)
    print(f"/annotations, user with {args.jobs} jobs (first page), wrk -t2 -c32 -d{args.duration}s, loopback")
    print(
        f"  GAS /annotations : {listing['rps']:.0f} req/s  p50={listing['p50']:.1f} ms"
        f"  p99={listing['p99']:.1f} ms  non-2xx={listing['errors']}"
    )
    print(f"  peer /healthz    : {health['rps']:.0f} req/s  p50={health['p50']:.1f} ms  p99={health['p99']:.1f} ms")
    print(
        f"  peer moto query  : {backend['rps']:.0f} req/s  p50={backend['p50']:.1f} ms  p99={backend['p99']:.1f} ms"
        "  (list_for_user straight to moto, 32 threads)"
    )
    print(f"  goal p99<=150 ms: {'met' if listing['p99'] <= 150 and not listing['errors'] else 'NOT met'}")
    return 0


def query_load(stack: DevStack, user_id: str, duration: int, threads: int = 32) -> dict[str, float]:
    """The page's query alone, as fast as moto answers it: what /annotations can at best reach."""
    import statistics
    import time
    from concurrent.futures import ThreadPoolExecutor

    os.environ.update({**stack.env(), "GAS_PREFIX": stack.prefix})
    from gas.core.aws import Aws
    from gas.core.config import CoreSettings
    from gas.core.jobs import JobStore

    store = JobStore(Aws(CoreSettings()))
    stop = time.monotonic() + duration

    def loop() -> list[float]:
        out = []
        while time.monotonic() < stop:
            t0 = time.monotonic()
            store.list_for_user(user_id, 20)
            out.append((time.monotonic() - t0) * 1000)
        return out

    with ThreadPoolExecutor(threads) as pool:
        lat = sorted(x for f in [pool.submit(loop) for _ in range(threads)] for x in f.result())
    return {"rps": len(lat) / duration, "p50": statistics.median(lat), "p99": lat[int(len(lat) * 0.99) - 1]}


def _user_id(stack: DevStack, user: User) -> str:
    ddb = moto_client(stack.moto_url, "dynamodb")
    items = ddb.scan(TableName=f"{stack.prefix}-users")["Items"]
    return next(i["user_id"]["S"] for i in items if i["email"]["S"] == user.email)


def _seed_jobs(stack: DevStack, user_id: str, count: int) -> None:
    env = {**stack.env(), "GAS_PREFIX": stack.prefix}
    code = (
        "from gas.core.aws import Aws; from gas.core.config import CoreSettings\n"
        "from gas.core.jobs import JobStore, new_job_id\n"
        "from gas.core.job_record import Job\n"
        "s = JobStore(Aws(CoreSettings()))\n"
        f"for i in range({count}):\n"
        "    j = new_job_id()\n"
        f"    s.create(Job(job_id=j, user_id={user_id!r}, input_file_name=f'sample_{{i}}.vcf', input_bucket='b',"
        f" input_key=f'{{j}}~sample_{{i}}.vcf', input_size=1,"
        " submitted_at=f'2026-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}.{i:03d}Z'))\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


if __name__ == "__main__":
    raise SystemExit(main())
