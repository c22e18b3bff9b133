"""Exports under load through gunicorn over HTTP (issue 22): a worker's memory stays flat
whatever the result's size, and a web process serves a bounded number of exports at once.

The results are generated straight into moto S3 (an annotated VCF of ~1 KB lines and the
Parquet table beside it), as the web result tests do, rather than annotated."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from jobs_support import new_job
from siteclient import User
from web_ops_support import local_gunicorn_web
from web_support import SECRET

from gas.annotator.engine.parquet import SCHEMA
from gas.core.job_record import JobStatus
from gas.core.jobs import JobStore, new_job_id
from gas.core.timeutil import utc_now_iso
from gas.web.auth import local_user_id

MIB = 1 << 20
PAD = "X" * 600  # an INFO field that makes each VCF line ~1 KB (with LONG_ID)
LONG_ID = "rs" + "7" * 400  # long text cells: the TSV/CSV exports are large too
TAIL = 10  # the last records are on X: a filter that matches only them reads the whole VCF


def big_result(records: int) -> tuple[bytes, bytes]:
    """(annotated VCF, Parquet table) of `records` one-ALT records, the last TAIL on X."""
    header = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    chroms = ["1"] * (records - TAIL) + ["X"] * TAIL
    lines = [f"{c}\t{i + 1}\t{LONG_ID}\tA\tG\t50\tPASS\tGENE=TP53;PAD={PAD}" for i, c in enumerate(chroms)]
    vcf = (header + "\n".join(lines) + "\n").encode()
    del lines
    n = records

    def lists(value: str) -> pa.Array:
        return pa.ListArray.from_arrays(pa.array(np.arange(n + 1, dtype=np.int32)), pa.array([value] * n))

    columns = {
        "record": pa.array(np.arange(n, dtype=np.int64)),
        "chrom": pa.array(chroms),
        "pos": pa.array(np.arange(1, n + 1, dtype=np.int64)),
        "id": pa.array([LONG_ID] * n),
        "rsid": pa.nulls(n, pa.string()),
        "ref": pa.array(["A"] * n),
        "alt": pa.array(["G"] * n),
        "qual": pa.array(np.full(n, 50.0)),
        "filter": pa.array(["PASS"] * n),
        "genes": lists("TP53"),
        "gene_types": lists("protein_coding"),
        "region": pa.array(["CDS"] * n),
        "nearest_gene": pa.nulls(n, pa.string()),
        "nearest_distance": pa.nulls(n, pa.int64()),
        "flags": lists("CPG"),
        "variant_class": pa.array(["SNV"] * n),
        "tstv": pa.array(["ts"] * n),
        "consequence": pa.array(["missense_variant"] * n),
        "consequences": lists("missense_variant"),
    }
    # What a genes-only database leaves null (known_source and the bundle columns) is null here too.
    columns |= {f.name: pa.nulls(n, f.type) for f in SCHEMA if f.name not in columns}
    table = pa.table(columns, schema=SCHEMA)
    out = io.BytesIO()
    pq.write_table(table, out, row_group_size=16_384)
    return vcf, out.getvalue()


def store_big(web_aws, user_id: str, records: int) -> str:
    """A COMPLETED job of the user with a generated result in moto S3; its id."""
    vcf, parquet = big_result(records)
    job_id = new_job_id()
    s3 = web_aws.client("s3")
    results = web_aws.names.results_bucket
    keys = {
        "result_key": f"{user_id}/{job_id}/big.annot.vcf",
        "variants_key": f"{user_id}/{job_id}/big.variants.parquet",
    }
    s3.put_object(Bucket=results, Key=keys["result_key"], Body=vcf)
    s3.put_object(Bucket=results, Key=keys["variants_key"], Body=parquet)
    job = new_job(
        user_id,
        "big.vcf",
        job_id=job_id,
        input_bucket=web_aws.names.inputs_bucket,
        input_key=f"inputs/{user_id}/{job_id}~big.vcf",
        input_size=len(vcf),
        status=JobStatus.COMPLETED,
        started_at=utc_now_iso(),
        completed_at=utc_now_iso(),
        result_bucket=results,
        **keys,
    )
    JobStore(web_aws).create(job)
    return job_id


@pytest.fixture(scope="module")
def export_web(web_aws, moto_url, tmp_path_factory):
    """gas-web under gunicorn (one worker, the local sign-in), one export at a time."""
    work = tmp_path_factory.mktemp("export-web")
    with local_gunicorn_web(web_aws, moto_url, SECRET, work, GAS_EXPORT_CONCURRENCY="1") as server:
        yield server


@pytest.fixture(scope="module")
def big_jobs(export_web, web_aws):
    """A signed-in user of that server and jobs of ~20 MB and ~200 MB annotated VCFs."""
    user = User(export_web.url).sign_in()
    user_id = local_user_id(user.email)
    return user, {records: store_big(web_aws, user_id, records) for records in (20_000, 200_000)}


def _worker(master: int) -> int:
    (pid,) = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return int(pid)


def _status(pid: int, field: str) -> int:
    """A memory figure of /proc/<pid>/status (VmHWM: peak resident set; VmRSS: now), bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field}")


def _reset_hwm(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # peak RSS := current RSS (proc(5))


def _drain(user: User, path: str) -> tuple[int, bytes]:
    """Bytes of a streamed export, and its last line."""
    size, tail = 0, b""
    with user.http.get(user.base + path, stream=True, timeout=300) as resp:
        assert resp.status_code == 200, resp.text[:300]
        for chunk in resp.iter_content(MIB):
            size += len(chunk)
            tail = (tail + chunk)[-4096:]
    return size, tail.rstrip(b"\n").rsplit(b"\n", 1)[-1]


@pytest.mark.skipif(not os.access("/proc/self/clear_refs", os.W_OK), reason="needs /proc/<pid>/clear_refs")
def test_export_memory_is_flat_from_20_to_200_mb(export_web, big_jobs):
    user, jobs = big_jobs
    worker = _worker(export_web.proc.pid)
    peaks = {}
    for records, job_id in jobs.items():
        base = f"/annotations/{job_id}/variants"
        assert user.get(base).status_code == 200  # the local copy is built
        _reset_hwm(worker)
        before = _status(worker, "VmRSS")
        # Only the last records match: the whole annotated VCF streams through the worker.
        size, last = _drain(user, f"{base}.vcf?chrom=X")
        assert last.startswith(f"X\t{records}\t".encode()) and size < 20 * 1024
        # Nothing matches (the attack).
        size, last = _drain(user, f"{base}.vcf?chrom=Y")
        assert last.startswith(b"#CHROM")
        # Every row, each format.
        for fmt in ("tsv", "csv"):
            size, last = _drain(user, f"{base}.{fmt}")
            assert size > records * len(LONG_ID) and last.lstrip(b'"').startswith(b"X")
        peaks[records] = _status(worker, "VmHWM") - before
    # What the exports added to the worker's peak: the same for 10x the result (on main's
    # code, which listed the VCF's chunks, ~+400 MiB for the 200 MB one).
    small, large = (peaks[n] / MIB for n in sorted(peaks))
    print(f"worker peak RSS growth over the exports: 20 MB result +{small:.1f} MiB, 200 MB result +{large:.1f} MiB")
    # (The first exports of a fresh worker also warm its allocator: the 20 MB one may cost more.)
    assert large < small + 24 and large < 96, f"peak RSS growth: 20 MB +{small:.0f} MiB, 200 MB +{large:.0f} MiB"


def test_an_export_beyond_the_process_limit_is_refused_with_retry_after(export_web, big_jobs):
    """GAS_EXPORT_CONCURRENCY=1: a second export while one streams gets 503 + Retry-After;
    the slot is free again once the first client hangs up. The first is 200 MB: more than
    loopback's socket buffers take, so it is still streaming."""
    user, jobs = big_jobs
    job_id = jobs[200_000]
    base = f"{export_web.url}/annotations/{job_id}/variants"
    first = user.http.get(f"{base}.vcf", stream=True, timeout=60)
    reading = first.iter_content(1024)  # kept: dropping it would hang up
    assert first.status_code == 200 and next(reading).startswith(b"##fileformat")
    refused = user.http.get(f"{base}.tsv", timeout=30)
    assert refused.status_code == 503 and int(refused.headers["Retry-After"]) > 0
    assert "try again" in refused.text
    assert user.http.get(base, timeout=30).status_code == 200  # pages are not exports
    first.close()  # the client goes away mid-export
    deadline = time.monotonic() + 15
    while (again := user.http.get(f"{base}.tsv?chrom=X", timeout=30)).status_code == 503:
        assert time.monotonic() < deadline, "the slot was never freed"
        time.sleep(0.2)
    assert again.status_code == 200 and again.text.count("\n") == 1 + TAIL
