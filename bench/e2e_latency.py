"""Submit -> COMPLETED for free_1.vcf on the local stack, N runs.

Peer in the same run: the engine alone (`gas-annotate` on the same file, as a process),
which is the floor the service adds its overhead to.

    .venv/bin/python bench/e2e_latency.py [--runs 20]
Goal (issue 2): median <= 2 s, p95 <= 4 s on a 2-core machine.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import SAMPLES, User, bench_stack, describe, job_id_of, options, percentile

BIN = Path(sys.executable).parent


def main() -> int:
    args = options(runs=20)
    content = (SAMPLES / "free_1.vcf").read_bytes()

    engine = []
    with tempfile.TemporaryDirectory() as out:
        for _ in range(args.runs):
            t = time.perf_counter()
            subprocess.run(
                [str(BIN / "gas-annotate"), str(SAMPLES / "free_1.vcf"), "-o", out],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            engine.append(time.perf_counter() - t)

    with bench_stack() as stack:
        user = User(stack.url).sign_in()
        user.wait_finished(job_id_of(user.submit("free_1.vcf", content)))  # warm-up
        service = []
        for _ in range(args.runs):
            form = user.upload_form()
            t = time.perf_counter()
            s3 = user.post_to_s3(form, "free_1.vcf", content)
            job_id = job_id_of(user.http.get(s3.headers["Location"], timeout=30))
            while user.job(job_id)["status"] not in ("COMPLETED", "FAILED"):
                time.sleep(0.05)
            service.append(time.perf_counter() - t)

    print("e2e submit->COMPLETED, free_1.vcf (1,141 variants)")
    print(f"  GAS local stack : {describe(service)}")
    print(f"  peer gas-annotate process alone: {describe(engine)}")
    ok = percentile(service, 50) <= 2 and percentile(service, 95) <= 4
    print(f"  goal median<=2s p95<=4s: {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
