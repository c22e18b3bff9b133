"""Fixtures of the one-node cluster test: the images, the node (tests/cluster/node_support.py),
and GAS installed on it by helm with the chart's dev values."""

from __future__ import annotations

import fcntl
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "chart"))

import kube  # noqa: E402
from images_support import built_images  # noqa: E402
from node_support import TOOLS_BIN, NetNs, OneNodeCluster  # noqa: E402

NODE_BINARIES = ("kubelet", "kube-proxy", "coredns", "pause")
KEDA_BINARIES = ("keda", "keda-adapter", "keda-config")  # tools/install-keda.sh


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    if kube.missing_binaries() or [b for b in NODE_BINARIES if not (TOOLS_BIN / b).exists()]:
        kube.install()  # `make test` built them; a failed build fails here
    # The ingress controller and KEDA (make tools built them)
    for script, binaries in (("install-traefik.sh", ("traefik",)), ("install-keda.sh", KEDA_BINARIES)):
        if [b for b in binaries if not (TOOLS_BIN / b).exists()]:
            subprocess.run([str(kube.ROOT / "tools" / script)], check=True, stdout=subprocess.DEVNULL)
    images = built_images()
    # One node per machine at a time (two test runs side by side would share the kubelet's
    # host paths and ports): a second run waits here for the first to tear its node down.
    with open("/tmp/gas-one-node.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        n = OneNodeCluster(tmp_path_factory.mktemp("node"), images)
        n.network()
        try:
            with NetNs(n.netns):
                try:
                    n.start()
                    yield n
                finally:
                    n.stop()
        finally:
            n.stop()  # idempotent: the namespace and cgroups even if start failed half-way
            print(f"one-node cluster figures: {n.timings}")


@pytest.fixture(scope="module")
def timer():
    return time.monotonic
