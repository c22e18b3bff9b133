"""The `gas` CLI against the local stack, as a pipeline and a person at a terminal use
it: JSON output, exit codes, progress bars on a terminal, Ctrl-C while waiting, and the
README's pipeline example run as written."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import time
import urllib.parse
from pathlib import Path

from api_stack_support import make_token, sample_path, site_user
from support import ROOT

from gas.web.variants import PROVENANCE

BAD_VCF = b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\t100\t.\tA\n"
GRCH38_VCF = (
    b"##fileformat=VCFv4.2\n##reference=GRCh38\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    b"1\t10177\t.\tA\tAC\t.\tPASS\t.\n"
)


def test_json_on_every_read_command(api_stack, gas, tmp_path):
    gas.login(make_token(site_user(api_stack.url)))
    submitted = gas.run("submit", str(sample_path("test.vcf")), "--json")
    assert submitted.returncode == 0, submitted.stderr
    (job,) = json.loads(submitted.stdout)
    assert job["status"] == "PENDING" and job["input_file_name"] == "test.vcf"
    waited = gas.run("wait", job["job_id"], "--json")
    assert waited.returncode == 0 and json.loads(waited.stdout)[0]["status"] == "COMPLETED"
    assert json.loads(gas.run("status", job["job_id"], "--json").stdout)["summary"]["variants"] > 0
    assert json.loads(gas.run("jobs", "--json").stdout)[0]["job_id"] == job["job_id"]
    assert "variants_read" in json.loads(gas.run("log", job["job_id"], "--json").stdout)["text"]
    assert json.loads(gas.run("whoami", "--json").stdout)["token"]["kind"] == "personal"
    got = json.loads(gas.run("download", job["job_id"], "-o", str(tmp_path / "d"), "--json").stdout)
    assert Path(got["path"]).read_text().startswith("##fileformat=VCF")
    # Without --json: one id per line from submit, for $(...) in shell scripts.
    plain = gas.run("submit", str(sample_path("test.vcf")))
    assert re.fullmatch(r"[0-9a-f-]{36}\n", plain.stdout), plain.stdout


def test_a_failed_job_exits_1_with_its_reason(api_stack, gas, tmp_path):
    gas.login(make_token(site_user(api_stack.url)))
    bad = tmp_path / "columns.vcf"
    bad.write_bytes(BAD_VCF)
    done = gas.run("submit", str(bad), "--wait")
    assert done.returncode == 1 and "FAILED" in done.stderr and "line 3" in done.stderr
    job_id = done.stdout.split()[0]
    assert gas.run("status", job_id).returncode == 1
    result = gas.run("download", job_id)
    assert result.returncode == 1 and "failed" in result.stderr


def test_a_refused_submission_exits_2_naming_the_field(api_stack, gas, tmp_path):
    gas.login(make_token(site_user(api_stack.url)))
    done = gas.run("submit", str(sample_path()), "--assembly", "hg19")
    assert done.returncode == 2 and "body.assembly" in done.stderr
    notes = tmp_path / "notes.txt"
    notes.write_text("not a VCF")
    done = gas.run("submit", str(notes))
    assert done.returncode == 2 and "body.file_name" in done.stderr and ".vcf" in done.stderr
    assert json.loads(gas.run("jobs", "--json").stdout) == []
    # A file on another assembly than --assembly: refused with the reason, until confirmed.
    hg38 = tmp_path / "hg38.vcf"
    hg38.write_bytes(GRCH38_VCF)
    done = gas.run("submit", str(hg38), "--assembly", "GRCh37")
    assert done.returncode == 2 and "header says GRCh38" in done.stderr and "--confirm-assembly" in done.stderr
    assert json.loads(gas.run("jobs", "--json").stdout) == []
    done = gas.run("submit", str(hg38), "--assembly", "GRCh37", "--confirm-assembly", "--json")
    assert done.returncode == 0, done.stderr
    (job,) = json.loads(done.stdout)
    assert job["assembly_confirmed"] is True and "GRCh38" in job["assembly_warning"]


def _tsv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE))


def test_variants_of_a_job_filtered_as_on_the_web_table(api_stack, gas):
    user = site_user(api_stack.url)
    gas.login(make_token(user))
    done = gas.run("submit", str(sample_path()), "--wait", "--json")
    assert done.returncode == 0, done.stderr
    job_id = json.loads(done.stdout)[0]["job_id"]
    # The limit is per user too: past this stack's 40 requests a minute, the CLI waits for Retry-After.
    every = gas.run("variants", job_id, "--json")
    assert every.returncode == 0, every.stderr
    table = json.loads(every.stdout)
    # free_1.vcf: 1,141 records, one row per ALT: three pages of the API, all followed.
    assert table["matched"] == table["total"] == len(table["variants"]) >= 1141
    gene = next(g for v in table["variants"] for g in v["genes"])
    filtered = gas.run("variants", job_id, "--gene", gene, "--region", "intron", "--region", "exon", "--tsv")
    assert filtered.returncode == 0, filtered.stderr
    web = user.get(f"/annotations/{job_id}/variants.tsv?gene={gene}&region=intron,exon")
    assert web.status_code == 200
    mine, theirs = _tsv_rows(filtered.stdout), _tsv_rows(web.text)
    assert mine and len(mine) == len(theirs)
    for a, b in zip(mine, theirs, strict=True):
        for name in PROVENANCE:  # the web's exports end with the database and sources; the CLI's rows do not
            b.pop(name)
        qual_a, qual_b = a.pop("qual"), b.pop("qual")  # "50.0" here, "50" from Arrow's cast
        assert qual_a == qual_b or float(qual_a) == float(qual_b)
        assert a == b
    short = gas.run("variants", job_id, "--limit", "3")
    assert short.returncode == 0 and len(short.stdout.splitlines()) == 4  # a header and 3 rows
    bad = gas.run("variants", job_id, "--chrom", "99")
    assert bad.returncode == 2 and "query.chrom" in bad.stderr


def test_progress_bars_on_a_terminal(api_stack, gas, tmp_path):
    gas.login(make_token(site_user(api_stack.url)))
    controller, terminal = pty.openpty()
    proc = gas.popen(
        "submit", str(sample_path()), "--wait", "-o", str(tmp_path), stdout=subprocess.PIPE, stderr=terminal
    )
    os.close(terminal)
    seen = b""
    while True:
        ready, _, _ = select.select([controller], [], [], 60)
        try:
            chunk = os.read(controller, 4096) if ready else b""
        except OSError:  # the terminal closed: the command ended
            break
        if not chunk:
            break
        seen += chunk
    assert proc.wait(60) == 0
    screen = seen.decode(errors="replace")
    assert "uploading free_1.vcf" in screen and "100%" in screen
    assert "waiting" in screen and "1/1" in screen and "downloading free_1.annot.vcf" in screen


def test_ctrl_c_while_waiting_leaves_the_job_running_and_says_how_to_follow_it(api_stack, gas):
    gas.login(make_token(site_user(api_stack.url)))
    annotator = api_stack.procs["annotator"]
    annotator.send_signal(signal.SIGSTOP)  # the job stays PENDING while we wait on it
    try:
        proc = gas.popen("submit", str(sample_path()), "--wait", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # Ctrl-C once the job exists, so the CLI is polling it (a fixed sleep could land in
        # the upload on a loaded machine: that answers "interrupted", and no job is left).
        deadline = time.monotonic() + 60
        while not json.loads(gas.run("jobs", "--json").stdout) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        annotator.send_signal(signal.SIGCONT)
    assert proc.returncode == 130, err
    assert "keep running on the server" in err
    job_id = re.search(r"gas wait ([0-9a-f-]{36})", err).group(1)
    assert json.loads(gas.run("status", job_id, "--json").stdout)["status"] in ("PENDING", "RUNNING", "COMPLETED")
    follow = gas.run("wait", job_id)  # the job went on without the CLI
    assert follow.returncode == 0 and "COMPLETED" in follow.stdout


def _pipeline_example() -> str:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- pipeline example: tests/api/test_api_cli.py runs it -->", 1)[1]
    return block.split("```bash\n", 1)[1].split("```", 1)[0]


def test_the_readme_pipeline_example_runs_as_written(api_stack, gas, tmp_path):
    script = _pipeline_example()
    assert len(script.strip().splitlines()) == 3
    gas.login(make_token(site_user(api_stack.url)))
    work = tmp_path / "pipeline"
    work.mkdir()
    shutil.copy(sample_path(), work / "sample.vcf")
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], cwd=work, env=gas.env(), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    annotated = work / "results" / "sample.annot.vcf"
    assert annotated.read_text().startswith("##fileformat=VCF")


def _big_vcf_gz(path: Path, records: int = 400_000, samples: int = 0) -> Path:
    """A .vcf.gz that keeps the engine busy for seconds (over the free limit); genotype
    columns make each record several times the work without a bigger file to write."""
    header = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    tail = ""
    if samples:
        names = "\t".join(f"S{i}" for i in range(samples))
        header = header.replace("\n#CHROM", '\n##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n#CHROM')
        header = header.replace("INFO\n", f"INFO\tFORMAT\t{names}\n")
        tail = "\tGT\t" + "\t".join(("0/1", "0/0", "1/1", "./.")[i % 4] for i in range(samples))
    with gzip.open(path, "wt", compresslevel=1) as out:
        out.write(header + "".join(f"1\t{100000 + 50 * i}\t.\tA\tG\t50\tPASS\t.{tail}\n" for i in range(records)))
    return path


def test_gas_wait_and_status_show_a_running_jobs_progress(api_stack, gas, tmp_path):
    user = site_user(api_stack.url)
    user.upgrade()
    gas.login(make_token(user))
    # Long enough for several of gas wait's polls while it runs (about 4 s of engine time here,
    # 1.2 s for 1.2M records without samples, too short for more than two).
    job_id = gas.run("submit", str(_big_vcf_gz(tmp_path / "big.vcf.gz", 400_000, samples=60))).stdout.strip()
    # Waiting from when it runs: how long a job stays PENDING is up to the queue, and a wait
    # polling a long-PENDING job every 5 s could first look when it is nearly done.
    deadline = time.monotonic() + 60
    while json.loads(gas.run("status", job_id, "--json").stdout)["status"] == "PENDING":
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.3)
    waiting = gas.popen("wait", job_id, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    statuses = []
    while waiting.poll() is None:
        # Until the first progress line only: the stack allows 40 requests a minute a user, and
        # a wait throttled by these polls could miss the whole run on a loaded machine.
        if not any("  progress: " in s for s in statuses):
            statuses.append(gas.run("status", job_id).stdout)
        time.sleep(0.3)
    out, err = waiting.communicate(timeout=30)
    assert waiting.returncode == 0 and f"{job_id} COMPLETED" in out, err
    # Not a terminal: one line per change of the job's progress, the percent growing.
    lines = [line for line in err.splitlines() if line.startswith(f"gas: job {job_id}: ")]
    percents = [
        float(re.search(r": ([\d.]+)% of the file read, [\d,]+ records written", line).group(1)) for line in lines
    ]
    assert len(percents) >= 2 and percents == sorted(percents) and percents[-1] > percents[0], err
    assert any("  progress: " in s and "% of the file read" in s for s in statuses), statuses
    assert "progress" not in gas.run("status", job_id).stdout, "a finished job shows no progress"


def test_cancel_a_running_job_and_rename_it_from_the_cli(api_stack, gas, tmp_path):
    user = site_user(api_stack.url)
    user.upgrade()  # a file that keeps the engine busy for seconds is over the free limit
    gas.login(make_token(user))
    job_id = gas.run("submit", str(_big_vcf_gz(tmp_path / "big.vcf.gz"))).stdout.strip()
    deadline = time.monotonic() + 60
    while json.loads(gas.run("status", job_id, "--json").stdout)["status"] != "RUNNING":
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.3)
    cancelled = gas.run("cancel", job_id)
    assert cancelled.returncode == 0 and "CANCELLED" in cancelled.stdout, cancelled.stderr
    waited = gas.run("wait", job_id)
    assert waited.returncode == 6 and f"{job_id} CANCELLED" in waited.stdout and "was CANCELLED" in waited.stderr
    assert gas.run("status", job_id).returncode == 6
    assert gas.run("cancel", job_id).returncode == 0, "a second cancel answers it again"
    renamed = gas.run("rename", job_id, "big, stopped")
    assert renamed.returncode == 0 and renamed.stdout.rstrip().endswith("big, stopped")
    assert json.loads(gas.run("status", job_id, "--json").stdout)["name"] == "big, stopped"
    too_long = gas.run("rename", job_id, "x" * 201)
    assert too_long.returncode == 2 and "body.name" in too_long.stderr
    done = gas.run("submit", str(sample_path("test.vcf")), "--wait").stdout.split()[0]
    late = gas.run("cancel", done)
    assert late.returncode == 1 and "already finished" in late.stderr


def test_records_outside_the_assembly_are_counted_on_the_job_page_and_in_the_summary(api_stack, gas, tmp_path):
    """A file with records past chromosome 1's end (GRCh37: 249,250,621) and on a contig
    GRCh37 lacks, annotated as GRCh37 at the user's confirmation: the job page states the
    records, the alleles, those annotated and those outside the assembly (past an end, by
    chromosome) once; the API's summary carries the same counts."""
    user = site_user(api_stack.url)
    gas.login(make_token(user))
    body = "".join(
        [
            "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n",
            "1\t69511\t.\tA\tG,C\t50\tPASS\t.\n",  # two alleles: two table rows
            "1\t865628\t.\tG\tA\t50\tPASS\t.\n",
            "1\t249250700\t.\tA\tG\t50\tPASS\t.\n",  # past the end of chromosome 1
            "1\t249260000\t.\tC\tT\t50\tPASS\t.\n",
            "chrUn_test\t100\t.\tA\tT\t50\tPASS\t.\n",  # a contig GRCh37 lacks
        ]
    )
    path = tmp_path / "edges.vcf"
    path.write_text(body)
    done = gas.run("submit", str(path), "--confirm-assembly", "--wait", "--json")
    assert done.returncode == 0, done.stderr
    job = json.loads(done.stdout)[0]
    assert job["summary"]["variants"] == 5
    assert job["summary"]["outside the assembly"] == 3 and job["summary"]["past a chromosome end"] == 2
    page = user.get(f"/annotations/{job['job_id']}").text
    totals = re.search(r'<p class="text-muted" id="summary-totals">(.*?)</p>', page, re.S).group(1)
    text = " ".join(re.sub(r"<[^>]+>", "", totals).split())
    assert text == (
        "5 records (6 alleles, one table row each): 2 annotated against GRCh37, 3 outside GRCh37 "
        "(2 past a chromosome end, by chromosome 1: 2; the rest on contigs GRCh37 lacks): written with "
        "variant class and ts/tv only; ts/tv 2.0."
    ), text


def test_saved_filters_from_the_cli(api_stack, gas):
    """`gas filters` lists, saves and deletes the user's saved filters (the web table's), and
    `gas variants --filter NAME` gives the rows the web table gives for that filter."""
    user = site_user(api_stack.url)
    gas.login(make_token(user))
    done = gas.run("submit", str(sample_path()), "--wait", "--json")  # free_1.vcf: 1,141 records on MT
    assert done.returncode == 0, done.stderr
    job_id = json.loads(done.stdout)[0]["job_id"]
    before = {f["name"] for f in json.loads(gas.run("filters", "--json").stdout)}
    saved = gas.run("filters", "save", "CLI MT SNVs", "chrom=MT&class=SNV", "--json")
    assert saved.returncode == 0, saved.stderr
    snvs = json.loads(saved.stdout)
    assert snvs["query"] == "class=SNV&chrom=MT" and snvs["name"] == "CLI MT SNVs"  # canonical
    low = gas.run("filters", "save", "CLI low", "--where", "pos < 10000", "--where", "chrom in MT,1")
    assert low.returncode == 0, low.stderr
    low_id, name, query = low.stdout.rstrip("\n").split("\t")
    assert name == "CLI low" and urllib.parse.parse_qsl(query) == [("where", "pos<10000"), ("where", "chrom in MT,1")]
    listed = gas.run("filters")
    assert listed.returncode == 0 and f"{low_id}\tCLI low\t" in listed.stdout
    names = {f["name"] for f in json.loads(gas.run("filters", "--json").stdout)}
    assert names == before | {"CLI low", "CLI MT SNVs"}
    # Applied by name (any case, spaces collapsed), alone and with the command line's options.
    for args, web_query in (
        (("--filter", "cli mt  SNVS"), "chrom=MT&class=SNV"),
        (("--filter", "CLI low", "--where", "pos>1000"), "where=pos<10000&where=chrom in MT,1&where=pos>1000"),
        (("--filter", "CLI MT SNVs", "--class", "INS"), "chrom=MT&class=INS"),  # the command line's class
    ):
        mine = gas.run("variants", job_id, *args, "--tsv")
        assert mine.returncode == 0, mine.stderr
        web = user.get(f"/annotations/{job_id}/variants.tsv", params=urllib.parse.parse_qsl(web_query))
        assert web.status_code == 200
        rows = _tsv_rows(mine.stdout)
        assert [(r["pos"], r["alt"]) for r in rows] == [(r["pos"], r["alt"]) for r in _tsv_rows(web.text)], args
        assert len(rows) > 5, args  # the comparison is of rows, not of two empty tables
    missing = gas.run("variants", job_id, "--filter", "no such filter")
    assert missing.returncode == 4 and "no saved filter named 'no such filter'" in missing.stderr
    bad = gas.run("filters", "save", "CLI bad", "chrom=99")
    assert bad.returncode == 2 and "query" in bad.stderr, bad.stderr
    assert gas.run("filters", "save", "CLI nothing").returncode == 2  # nothing to save
    deleted = gas.run("filters", "delete", low_id)
    assert deleted.returncode == 0, deleted.stderr
    assert "CLI low" not in gas.run("filters").stdout
    assert gas.run("filters", "delete", low_id).returncode == 4
    assert gas.run("filters", "delete", snvs["id"]).returncode == 0
