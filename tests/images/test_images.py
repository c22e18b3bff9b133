"""Every GAS image, built here (tools/images/build.py) and started with runc exactly as the
chart's dev-mode pod spec says (tests/images/runc_support.py): UID/GID 10001 with the
fsGroup as a supplementary group, read-only root filesystem, the chart's emptyDir volumes,
no capabilities, no_new_privs, the memory limit, the ConfigMap/Secret environment.

One "pod" (a network namespace with `gas-moto` in its /etc/hosts) holds the moto image,
started as the chart's moto Deployment, and the chart's provisioning Job (the web image
running `gas-provision`) creates the buckets, tables, topics and queues in it. Then each
image must answer what the kubelet would ask it: web /healthz and /readyz (DynamoDB + S3
through moto), each worker's /healthz, /readyz and /metrics on its metrics port, the
operator `--help`; the annotator image annotates a sample VCF with the database it carries,
with no network. A deliberately broken image (a module removed) must fail the same check.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from runc_support import Pod, Rendered, unpack
from support import SAMPLES

WORKERS = {  # component -> (image, queue)
    "annotator": ("gas-annotator", "annotate"),
    "notifier": ("gas-notifier", "notify"),
    "archiver-archive": ("gas-archiver", "archive"),
    "archiver-restore": ("gas-archiver", "restore"),
    "archiver-thaw": ("gas-archiver", "thaw"),
}


def container_of(rendered: Rendered, component: str) -> tuple[dict, dict]:
    pod_spec = rendered.pod(component)
    (container,) = pod_spec["containers"]
    return pod_spec, container


@pytest.fixture(scope="module")
def pod(tmp_path_factory, images, rendered):
    """moto (the chart's dev-mode Deployment) up and provisioned (the chart's Job)."""
    p = Pod(tmp_path_factory.mktemp("image-pod"), "gas-image-test", hosts={"gas-moto": "127.0.0.1"})
    try:
        pod_spec, container = container_of(rendered, "moto")
        moto = p.start("moto", *unpack(images["moto"]), container, pod_spec, rendered.env(container))
        p.wait_http(moto, 5000, "/moto-api/")
        pod_spec, container = container_of(rendered, "provision")
        job = p.run("provision", *unpack(images["gas-web"]), container, pod_spec, rendered.env(container))
        assert job.returncode == 0 and "provisioned prefix=gas" in job.stdout + job.stderr, job.stdout + job.stderr
        yield p
    finally:
        p.stop()


def test_every_image_is_built(images):
    assert set(images) >= {f"gas-{s}" for s in ("web", "annotator", "notifier", "archiver", "operator")} | {
        "moto",
        "pause",
        "coredns",
    }
    for image in images.values():
        assert Path(image["archive"]).stat().st_size == image["size_bytes"] > 100_000, image
        print(f"{image['name']:14} {image['ref']:40} {image['size_bytes'] / 1e6:7.1f} MB")


def test_moto_runs_as_the_chart_runs_it(pod):
    (moto,) = [c for c in pod.containers if c.id.endswith("-moto")]
    assert moto.exec("id", "-u").stdout.strip() == "10001"
    status, body = pod.http(5000, "/moto-api/data.json")
    assert status == 200 and "gas-jobs" in body  # the provisioning Job's table


def test_web_serves_health_and_readiness(pod, images, rendered):
    pod_spec, container = container_of(rendered, "web")
    ports = {p["name"]: int(p["containerPort"]) for p in container["ports"]}
    web = pod.start("web", *unpack(images["gas-web"]), container, pod_spec, rendered.env(container))
    try:
        # Probes and metrics on the ops port, as the chart's probes use them; the public
        # port (the Ingress's) serves the site and answers 404 for them.
        assert pod.wait_http(web, ports["ops"], "/healthz")[0] == 200
        status, body = pod.wait_http(web, ports["ops"], "/readyz")  # DynamoDB and S3 through moto
        assert status == 200, body
        assert "gas_web_requests_total" in pod.http(ports["ops"], "/metrics")[1]
        assert pod.http(ports["http"], "/metrics")[0] == 404
        assert pod.http(ports["http"], "/")[0] == 200
        # what the security context promises, checked from inside
        assert web.exec("id", "-u").stdout.strip() == "10001"
        assert "10001" in web.exec("id", "-G").stdout.split()  # fsGroup
        denied = web.exec("touch", "/opt/venv/written")
        assert denied.returncode != 0 and "Read-only file system" in denied.stderr
        assert web.exec("touch", "/tmp/written").returncode == 0  # the emptyDir
        caps = web.exec("grep", "^CapEff", "/proc/self/status").stdout.split()[-1]
        assert int(caps, 16) == 0, caps
    finally:
        pod.stop_container(web)


@pytest.mark.parametrize("component", list(WORKERS))
def test_worker_serves_probes_and_metrics(pod, images, rendered, component):
    image, queue = WORKERS[component]
    pod_spec, container = container_of(rendered, component)
    port = int(container["ports"][0]["containerPort"])
    worker = pod.start(component, *unpack(images[image]), container, pod_spec, rendered.env(container))
    try:
        assert pod.wait_http(worker, port, "/healthz")[0] == 200
        assert pod.wait_http(worker, port, "/readyz")[0] == 200
        metrics = pod.http(port, "/metrics")[1]
        assert f'gas_worker_messages_received_total{{queue="{queue}"}}' in metrics, metrics[:2000]
        assert worker.exec("id", "-u").stdout.strip() == "10001"
    finally:
        pod.stop_container(worker)


def test_operator_entrypoint_loads(pod, images, rendered):
    pod_spec, container = container_of(rendered, "operator")
    proc = pod.run("operator", *unpack(images["gas-operator"]), {**container, "args": ["--help"]}, pod_spec, {})
    assert proc.returncode == 0 and "usage: gas-operator" in proc.stdout, proc.stdout + proc.stderr


def test_annotator_image_annotates_a_sample_offline(pod, images, rendered):
    """The database is in the image: no network in the pod but loopback, and it annotates."""
    pod_spec, container = container_of(rendered, "annotator")
    sample = SAMPLES / "free_1.vcf"
    command = {**container, "command": ["gas-annotate", "/samples/free_1.vcf", "-o", "/scratch/out"]}
    mount = {"destination": "/samples", "type": "bind", "source": str(SAMPLES), "options": ["rbind", "ro"]}
    proc = pod.run("annotate", *unpack(images["gas-annotator"]), command, pod_spec, rendered.env(container), [mount])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = pod.workdir / "annotate" / "volumes" / "scratch" / "out"
    (annotated,) = out.glob("*.annot.vcf")
    body = [line for line in annotated.read_text().splitlines() if not line.startswith("#")]
    variants = [line for line in sample.read_text().splitlines() if line and not line.startswith("#")]
    assert len(body) == len(variants) == 1141
    assert all("REGION=" in line for line in body)
    summary = json.loads(next(out.glob("*.summary.json")).read_text())
    assert summary, summary


def test_a_broken_image_fails_the_check(pod, images, rendered, tmp_path):
    """The same start-up check on the web image with its own package removed (a missing
    module, what a broken Dockerfile COPY would ship) must fail, naming the cause."""
    rootfs, config = unpack(images["gas-web"])
    broken = tmp_path / "rootfs"
    subprocess.run(["cp", "-a", "--reflink=auto", str(rootfs), str(broken)], check=True)
    (package,) = broken.glob("opt/venv/lib/python3*/site-packages/gas/web")
    shutil.rmtree(package)
    pod_spec, container = container_of(rendered, "web")
    web = pod.start("broken-web", broken, config, container, pod_spec, rendered.env(container))
    try:
        with pytest.raises(AssertionError) as failed:
            pod.wait_http(web, 8080, "/healthz", timeout=30)
        assert "ModuleNotFoundError" in str(failed.value) and "gas.web" in str(failed.value), failed.value
    finally:
        pod.stop_container(web)
