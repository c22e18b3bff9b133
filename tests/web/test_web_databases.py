"""The upload form's database choice (Flask test client, moto over HTTP): the form lists the
deployed databases, a bundle on a human assembly is checked as that assembly, and the
"anyway" answer to the assembly question keeps the bundle chosen."""

from __future__ import annotations

import html as htmllib
import re
import subprocess

from deployed_bundle import BIN, deploy_bundle
from web_support import upload, upload_form

from gas.core.jobs import JobStore

GRCH37_VCF = b"##fileformat=VCFv4.2\n##reference=GRCh37\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


def test_a_bundle_on_grch38_confirmed_anyway_stays_the_jobs_database(sign_in, web_aws, tmp_path, monkeypatch):
    deployed = deploy_bundle(tmp_path)
    build = [str(BIN / "gas-annotation-db"), "build", "--name", "t38", "--assembly", "GRCh38", "--db-dir"]
    subprocess.run(
        [*build, str(deployed.db_dir), "--gff3", str(deployed.gff3), "--fasta", str(deployed.fasta)], check=True
    )
    monkeypatch.setenv("GAS_ANNOTATION_DB_DIR", str(deployed.db_dir))
    c, _ = sign_in()
    page = c.get("/annotate").get_data(as_text=True)
    assert re.findall(r'<option value="([^"]+)"', page) == ["GRCh37", "GRCh38", "t38", "tx-test"]
    assert "GRCh38 — t38 transcripts (genes.gff3)" in page

    form = upload_form(c)
    form["fields"]["x-amz-meta-assembly"] = "t38"
    _, path = upload(c, "old.vcf", GRCH37_VCF, form)
    asked = c.get(path)
    assert asked.status_code == 409  # checked as the bundle's assembly, GRCh38
    question = asked.get_data(as_text=True)
    anyway = re.search(r'<form method="post" action="([^"]+)">(.*?id="use-chosen">([^<]+)<)', question, re.S)
    assert anyway and anyway.group(3) == "Annotate as GRCh38 with t38 anyway"
    fields = {k: htmllib.unescape(v) for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', anyway.group(2))}
    assert fields["database"] == "t38" and fields["assembly"] == "GRCh38" and fields["confirm"] == "yes"
    done = c.post(anyway.group(1), data=fields)
    assert done.status_code == 302, done.get_data(as_text=True)
    job = JobStore(web_aws).get(done.headers["Location"].rsplit("/", 1)[-1])
    assert job.database == "t38" and job.assembly == "GRCh38" and job.assembly_confirmed
    shown = c.get(done.headers["Location"]).get_data(as_text=True)
    assert 'id="job-database">bundle t38' in shown
