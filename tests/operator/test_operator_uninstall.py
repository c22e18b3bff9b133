"""`helm uninstall` with the operator on: the release's namespace then deletes (issue 16
item 3). kopf daemons put a finalizer on every QueueScaler that only the operator could
remove, and Helm deletes custom resources last, after the operator and its RBAC: the
scalers stayed Terminating and the namespace with them. Now the operator adds no
finalizer, and removes the one earlier versions added."""

from __future__ import annotations

import subprocess
import time

from operator_support import HELM, Operators, apply, merge_patch, scaler_path, wait_for
from support import ROOT

NS = "gas-uninstall"


def _helm(cluster, *args: str) -> None:
    proc = subprocess.run(
        [str(HELM), "--kubeconfig", str(cluster.admin_kubeconfig), "-n", NS, *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_helm_uninstall_then_the_namespace_deletes(cluster, operator_env, aws_env, tmp_path):
    apply(cluster, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    chart, key = str(ROOT / "charts" / "gas"), "secrets.secretKey=" + "uninstall-test-" * 3  # >= 32 chars
    # Production mode refuses placeholders: the values minimal.yaml gives, but the secret key inline.
    real = ["prefix=lab-gas", "sesSender=gas-noreply@genomics.test", "ingress.host=gas.genomics.test"]
    real.append("image.registry=registry.genomics.test")
    sets = [arg for value in ["operator.enabled=true", key, *real] for arg in ("--set", value)]
    _helm(cluster, "install", "gas", chart, *sets)
    scalers = f"/apis/gas.dev/v1alpha1/namespaces/{NS}/queuescalers"
    names = [s["metadata"]["name"] for s in cluster.api(scalers).json()["items"]]
    assert len(names) == 5, names
    # One scaler as an earlier version left it: with kopf's finalizer on.
    merge_patch(cluster, scaler_path(names[0], NS), {"metadata": {"finalizers": ["gas.dev/queuescaler"]}})

    kubeconfig = cluster.service_account_kubeconfig(NS, "gas-operator", tmp_path / "kubeconfig")
    ops = Operators({**aws_env, "KUBECONFIG": str(kubeconfig)}, tmp_path)
    op = ops.start(GAS_WATCH_NAMESPACE=NS)
    try:

        def processed() -> bool:
            items = cluster.api(scalers).json()["items"]
            return len(items) == 5 and all(
                (s.get("status") or {}).get("conditions") and not s["metadata"].get("finalizers") for s in items
            )

        wait_for(processed, 60, "every QueueScaler reconciled, none with a finalizer")
        assert op.leader()
        # As in a cluster: helm deletes the operator's Deployment and RBAC, then the scalers.
        _helm(cluster, "uninstall", "gas")
    finally:
        ops.stop()
    assert cluster.api(f"/api/v1/namespaces/{NS}", "DELETE").status_code == 200
    deleted = time.monotonic()
    wait_for(lambda: cluster.api(f"/api/v1/namespaces/{NS}").status_code == 404, 120, "the namespace to delete")
    print(f"namespace deleted {time.monotonic() - deleted:.1f}s after the request")
