"""Submit -> COMPLETED for free_1.vcf on the local stack, N runs.

Peer in the same run: the engine alone (`gas-annotate` on the same file, as a process),
which is the floor the service adds its overhead to. With ``--baseline-ref REF`` the same
for git revision REF (``_common.baseline_env``: its code on this .venv's packages) on a
second stack started beside the first, the runs of both interleaved so a change of load
hits both alike; CPU is every process of the stack (web, moto, workers) during a job.

    .venv/bin/python bench/e2e_latency.py [--runs 20] [--baseline-ref REF] [--workdir DIR]
Goal (issue 2): median <= 2 s, p95 <= 4 s on a 2-core machine.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from _common import (
    SAMPLES,
    User,
    baseline_env,
    bench_stack,
    children_cpu,
    compile_bytecode,
    describe,
    job_id_of,
    options,
    percentile,
    stack_cpu,
)

BIN = Path(sys.executable).parent


def submit_and_wait(user: User, content: bytes) -> float:
    """Seconds from the upload to S3 to the job's COMPLETED (or FAILED), as the browser sees it."""
    form = user.upload_form()
    t = time.perf_counter()
    s3 = user.post_to_s3(form, "free_1.vcf", content)
    job_id = job_id_of(user.http.get(s3.headers["Location"], timeout=30))
    while user.job(job_id)["status"] not in ("COMPLETED", "FAILED"):
        time.sleep(0.05)
    return time.perf_counter() - t


def main() -> int:
    args = options(runs=20, baseline_ref="", workdir="")
    content = (SAMPLES / "free_1.vcf").read_bytes()
    work = Path(str(args.workdir) or tempfile.mkdtemp(prefix="gas-e2e-"))
    sides: dict[str, dict[str, str]] = {"GAS": {}}
    if args.baseline_ref:
        sides[f"baseline ({args.baseline_ref})"] = baseline_env(str(args.baseline_ref), work)
    compile_bytecode()  # as the image is, and the baseline's tree
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")

    engine: dict[str, list[float]] = {name: [] for name in sides}
    engine_cpu = dict.fromkeys(sides, 0.0)
    with tempfile.TemporaryDirectory() as out:
        for _ in range(args.runs):
            for name, env in sides.items():
                t, cpu0 = time.perf_counter(), children_cpu()
                subprocess.run(
                    [str(BIN / "gas-annotate"), str(SAMPLES / "free_1.vcf"), "-o", out],
                    check=True,
                    stdout=subprocess.DEVNULL,
                    env={**os.environ, **env},
                )
                engine[name].append(time.perf_counter() - t)
                engine_cpu[name] += children_cpu() - cpu0

    service: dict[str, list[float]] = {name: [] for name in sides}
    service_cpu = dict.fromkeys(sides, 0.0)
    with ExitStack() as stacks:
        users = {}
        for name, env in sides.items():
            stack = stacks.enter_context(bench_stack(**env))
            user = User(stack.url).sign_in()
            user.wait_finished(job_id_of(user.submit("free_1.vcf", content)))  # warm-up
            users[name] = (stack, user)
        for _ in range(args.runs):
            for name, (stack, user) in users.items():
                cpu0 = stack_cpu(stack)
                service[name].append(submit_and_wait(user, content))
                service_cpu[name] += stack_cpu(stack) - cpu0

    print(f"e2e submit->COMPLETED, free_1.vcf (1,141 variants); load average {os.getloadavg()[0]:.1f} at the end")
    for name in sides:
        print(f"  {name} local stack : {describe(service[name])}; stack CPU {service_cpu[name] / args.runs:.3f} s/job")
        print(f"    peer gas-annotate alone: {describe(engine[name])}; CPU {engine_cpu[name] / args.runs:.3f} s")
        ok = percentile(service[name], 50) <= 2 and percentile(service[name], 95) <= 4
        print(f"    goal median<=2s p95<=4s: {'met' if ok else 'NOT met'}")
    if args.baseline_ref:
        base = f"baseline ({args.baseline_ref})"
        for what, walls, cpus in (("stack", service, service_cpu), ("engine alone", engine, engine_cpu)):
            wall = statistics.median(walls["GAS"]) / statistics.median(walls[base])
            print(f"  ratio GAS / {base}, {what}: median wall {wall:.2f}, CPU {cpus['GAS'] / cpus[base]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
