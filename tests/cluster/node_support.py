"""A real one-node Kubernetes cluster on this machine, kept in namespaces of its own.

- network: a network namespace `gas-node-<id>` holds the node: its address on a dummy
  interface (NODE_IP), the CNI bridge `cni0` with the pods, kube-proxy's iptables rules,
  the Service IPs. The test process enters it (on its main thread, `NetNs`) for its own
  HTTP and API calls, and every process it starts inherits it.
- mounts: containerd and the kubelet run in a private mount namespace (slave of the host's)
  where /run/containerd, /run/netns, /var/lib/cni and /var/log/{pods,containers} are
  tmpfs, so their mounts and files never reach the host; the kernel settings the kubelet
  wants (vm.overcommit_memory, kernel.panic, ...) are masked there with the values it
  expects, so it never retunes the shared machine's kernel.
- cgroups: the kubelet's cgroup root is /gas-node-<id> in every (v1) hierarchy.

Pieces: etcd + kube-apiserver + controller-manager + scheduler (tests/kube.py, with a CA of
its own), containerd (Debian) with runc, CNI bridge + host-local + loopback (Debian),
kubelet and kube-proxy (iptables mode) built from k8s.io/kubernetes, CoreDNS built from its
module as the kube-dns Service, the pause image built here; every image imported into
containerd's k8s.io namespace (no registry). `stop` tears it all down and `leftovers`
says what, if anything, survived.
"""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import shutil
import socket
import struct
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import kube
import yaml

TOOLS_BIN = kube.TOOLS_BIN
NODE_NAME = "gas-node"
NODE_IP = "10.255.0.2"
POD_SUBNET = "10.244.0.0/24"
POD_GATEWAY = "10.244.0.1"
SERVICE_CIDR = "10.96.0.0/16"  # tests/kube.py's --service-cluster-ip-range
API_SERVICE_IP = "10.96.0.1"
DNS_SERVICE_IP = "10.96.0.10"
CLUSTER_DOMAIN = "cluster.local"
HERE = Path(__file__).resolve().parent
# What the kubelet sets unless it finds them (protectKernelDefaults then only checks).
KERNEL_DEFAULTS = {
    "vm/overcommit_memory": "1",
    "vm/panic_on_oom": "0",
    "kernel/panic": "10",
    "kernel/panic_on_oops": "1",
    "kernel/keys/root_maxkeys": "1000000",
    "kernel/keys/root_maxbytes": "25000000",
}
PRIVATE_DIRS = ("/run/containerd", "/run/netns", "/var/lib/cni", "/var/log/pods", "/var/log/containers")

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


class NetNs:
    """Move the calling thread (and every process it starts from then on) into a network
    namespace, and back."""

    def __init__(self, path: str):
        self.path = path
        self._home: int | None = None

    def __enter__(self) -> NetNs:
        self._home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        self._switch(self.path)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._home is not None:
            self._switch_fd(self._home)
            os.close(self._home)
            self._home = None

    def _switch(self, path: str) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            self._switch_fd(fd)
        finally:
            os.close(fd)

    @staticmethod
    def _switch_fd(fd: int) -> None:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns(CLONE_NEWNET) failed")


def sh(*argv: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=check, capture_output=True, text=True, **kw)


def dns_query(server: str, name: str, timeout: float = 3) -> list[str]:
    """A records of `name` asked of `server` (one UDP query, as a pod's resolver does)."""
    qid = secrets.randbits(16)
    question = b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"
    packet = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + question + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(packet, (server, 53))
        data = s.recv(4096)
    rid, flags, _qd, ancount, _ns, _ar = struct.unpack(">HHHHHH", data[:12])
    if rid != qid or flags & 0x000F:
        return []
    pos = 12 + len(question) + 4
    answers = []
    for _ in range(ancount):
        while data[pos] != 0 and data[pos] & 0xC0 != 0xC0:  # skip the owner name
            pos += data[pos] + 1
        pos += 2 if data[pos] & 0xC0 == 0xC0 else 1
        rtype, _cls, _ttl, rdlen = struct.unpack(">HHIH", data[pos : pos + 10])
        pos += 10
        if rtype == 1 and rdlen == 4:
            answers.append(socket.inet_ntoa(data[pos : pos + 4]))
        pos += rdlen
    return answers


@dataclass
class OneNodeCluster:
    workdir: Path
    images: dict[str, dict]  # tools/images/build.py's manifest
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)  # name -> daemon
    cp: kube.ControlPlane | None = None
    timings: dict[str, float] = field(default_factory=dict)

    # ---------------------------------------------------------------- names

    @property
    def netns_name(self) -> str:
        return f"gas-node-{self.id}"

    @property
    def netns(self) -> str:
        return f"/run/netns/{self.netns_name}"

    @property
    def mntns(self) -> Path:
        return self.workdir / "ns" / "mnt"

    @property
    def cgroup_root(self) -> str:
        return f"/gas-node-{self.id}"

    @property
    def sock(self) -> Path:
        return self.workdir / "containerd" / "containerd.sock"

    # ---------------------------------------------------------------- start

    def start(self) -> OneNodeCluster:
        """Bring the node up (the caller must be inside `NetNs(self.netns)` once `network()` ran)."""
        t0 = time.monotonic()
        self._mount_namespace()
        self._cgroups()
        self._control_plane()
        self._containerd()
        self._import_images()
        self._kubelet()
        self._kube_proxy()
        self._wait_node_ready()
        self._coredns()
        self.timings["node up (s)"] = round(time.monotonic() - t0, 1)
        return self

    def network(self) -> None:
        """The node's network namespace: loopback, the node address, forwarding and
        bridge-netfilter on (per namespace), so Services work across the pod bridge."""
        sh("ip", "netns", "add", self.netns_name)
        n = ["ip", "-n", self.netns_name]
        sh(*n, "link", "set", "lo", "up")
        # the node's address (this kernel has no dummy links: a veth pair, both ends inside;
        # no default route, so traffic to anywhere else fails at once)
        sh(*n, "link", "add", "node0", "type", "veth", "peer", "name", "node0-peer")
        sh(*n, "addr", "add", f"{NODE_IP}/24", "dev", "node0")
        sh(*n, "link", "set", "node0", "up")
        sh(*n, "link", "set", "node0-peer", "up")
        # Service IPs need a route for the node's own connections to reach kube-proxy's DNAT
        sh(*n, "route", "add", SERVICE_CIDR, "dev", "node0")
        for key in ("net/ipv4/ip_forward", "net/bridge/bridge-nf-call-iptables"):
            sh("ip", "netns", "exec", self.netns_name, "sh", "-c", f"echo 1 > /proc/sys/{key}")

    def _mount_namespace(self) -> None:
        ns = self.mntns.parent
        ns.mkdir(parents=True)
        # a private mount point to hold the namespace file (unshare --mount=FILE needs it)
        sh("mount", "--bind", str(ns), str(ns))
        sh("mount", "--make-private", str(ns))
        self.mntns.touch()
        masks = self.workdir / "kernel"
        masks.mkdir()
        setup = ["set -e"]
        for d in PRIVATE_DIRS:
            setup.append(f"mkdir -p {d} && mount -t tmpfs -o mode=0755,size=256m gas-node {d}")
        for key, value in KERNEL_DEFAULTS.items():
            f = masks / key.replace("/", ".")
            f.write_text(value + "\n")
            setup.append(f"mount --bind {f} /proc/sys/{key}")
        sh("unshare", f"--mount={self.mntns}", "--propagation", "slave", "sh", "-c", "\n".join(setup))

    def _cgroups(self) -> None:
        for hierarchy in Path("/sys/fs/cgroup").iterdir():
            if not (hierarchy / "cgroup.procs").exists() or hierarchy.is_symlink():
                continue
            d = hierarchy / self.cgroup_root.lstrip("/")
            d.mkdir(exist_ok=True)
            if hierarchy.name == "cpuset":
                for f in ("cpuset.cpus", "cpuset.mems"):
                    (d / f).write_text((hierarchy / f).read_text())

    def _spawn(self, name: str, argv: list[str], mount_ns: bool = True) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 - owned by the child
        if mount_ns:
            argv = ["nsenter", f"--mount={self.mntns}", "--", *argv]
        env = {**os.environ, "KUBE_FEATURE_WatchListClient": "false"}
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, stdin=subprocess.DEVNULL)
        self.procs[name] = proc
        return proc

    def _control_plane(self) -> None:
        pki = kube.Pki(self.workdir / "pki").create(
            [NODE_IP, API_SERVICE_IP, "127.0.0.1"],
            ["kubernetes", "kubernetes.default", "kubernetes.default.svc", f"kubernetes.default.svc.{CLUSTER_DOMAIN}"],
        )
        self.node_token, self.proxy_token = secrets.token_hex(16), secrets.token_hex(16)
        self.cp = kube.ControlPlane(
            self.workdir / "controlplane",
            address=NODE_IP,
            fake_node=False,
            pki=pki,
            tokens={
                self.node_token: f'system:node:{NODE_NAME},{NODE_NAME},"system:nodes"',
                self.proxy_token: "system:kube-proxy,kube-proxy",
            },
        ).start()

    def _kubeconfig(self, name: str, token: str) -> Path:
        assert self.cp
        path = self.workdir / f"{name}.kubeconfig"
        path.write_text(kube.kubeconfig(self.cp.server, token))
        return path

    def _containerd(self) -> None:
        w = self.workdir
        cni = w / "cni" / "net.d"
        cni.mkdir(parents=True)
        (cni / "10-gas-pods.conflist").write_text(
            json.dumps(
                {
                    "cniVersion": "1.0.0",
                    "name": "gas-pods",
                    "plugins": [
                        {
                            "type": "bridge",
                            "bridge": "cni0",
                            "isGateway": True,
                            "ipMasq": True,
                            "hairpinMode": True,
                            "ipam": {
                                "type": "host-local",
                                "ranges": [[{"subnet": POD_SUBNET, "gateway": POD_GATEWAY}]],
                                "routes": [{"dst": "0.0.0.0/0"}],
                            },
                        }
                    ],
                },
                indent=1,
            )
        )
        pause = self.images["pause"]["ref"]
        config = w / "containerd" / "config.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(
            f"""version = 2
root = "{w}/containerd/root"
state = "{w}/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "{self.sock}"
[ttrpc]
  address = "{self.sock}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{w}/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  # this machine withholds CAP_SYS_RESOURCE (CapBnd 000001fffeffffff), so no process may lower
  # its oom_score_adj: the CRI's -998 for sandboxes would fail every pod; keep them at ours
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "{shutil.which("runc")}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni}"
"""
        )
        self._spawn("containerd", ["containerd", "--config", str(config)])
        deadline = time.monotonic() + 60
        while not self.sock.exists() or self.ctr("version", check=False).returncode != 0:
            assert time.monotonic() < deadline, (w / "containerd.log").read_text()[-3000:]
            time.sleep(0.3)

    def ctr(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["nsenter", f"--mount={self.mntns}", "--", "ctr", "--address", str(self.sock), "-n", "k8s.io", *args],
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
        )

    def _import_images(self) -> None:
        t0 = time.monotonic()
        for image in self.images.values():
            if image["name"].startswith("base-"):
                continue
            self.ctr("images", "import", image["archive"])
        self.timings["images imported (s)"] = round(time.monotonic() - t0, 1)

    def _kubelet(self) -> None:
        w = self.workdir
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "address": NODE_IP,
            "port": 10250,
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": 10248,
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": True},
                "x509": {"clientCAFile": str(w / "pki" / "ca.crt")},
            },
            "authorization": {"mode": "Webhook"},
            "cgroupDriver": "cgroupfs",
            "cgroupRoot": self.cgroup_root,
            "failCgroupV1": False,
            "clusterDNS": [DNS_SERVICE_IP],
            "clusterDomain": CLUSTER_DOMAIN,
            "containerRuntimeEndpoint": f"unix://{self.sock}",
            "failSwapOn": False,
            "protectKernelDefaults": True,
            "resolvConf": str(self._resolv_conf()),
            "podLogsDir": "/var/log/pods",
            "maxPods": 60,
            "serializeImagePulls": False,
            # this machine's disk is shared: never evict or garbage-collect images for it
            "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "registerNode": True,
            "rotateCertificates": False,
            "shutdownGracePeriod": "0s",
            "oomScoreAdj": 0,  # no CAP_SYS_RESOURCE here (see the containerd config)
        }
        (w / "kubelet.yaml").write_text(yaml.safe_dump(config))
        self._spawn(
            "kubelet",
            [
                str(TOOLS_BIN / "kubelet"),
                f"--config={w / 'kubelet.yaml'}",
                f"--kubeconfig={self._kubeconfig('kubelet', self.node_token)}",
                f"--root-dir={w / 'kubelet'}",
                f"--cert-dir={w / 'kubelet-pki'}",
                f"--hostname-override={NODE_NAME}",
                f"--node-ip={NODE_IP}",
                "--v=1",
            ],
        )

    def _resolv_conf(self) -> Path:
        """What pods with dnsPolicy Default get (CoreDNS itself): no upstream here."""
        path = self.workdir / "resolv.conf"
        path.write_text("nameserver 127.0.0.1\noptions ndots:1\n")
        return path

    def _kube_proxy(self) -> None:
        w = self.workdir
        config = {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": str(self._kubeconfig("kube-proxy", self.proxy_token))},
            "mode": "iptables",
            "clusterCIDR": "10.244.0.0/16",
            "hostnameOverride": NODE_NAME,
            "bindAddress": NODE_IP,
            "healthzBindAddress": "127.0.0.1:10256",
            "metricsBindAddress": "127.0.0.1:10249",
            # conntrack table sizes are the machine's, not this node's: leave them alone
            "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
            "oomScoreAdj": 0,
        }
        (w / "kube-proxy.yaml").write_text(yaml.safe_dump(config))
        self._spawn("kube-proxy", [str(TOOLS_BIN / "kube-proxy"), f"--config={w / 'kube-proxy.yaml'}", "--v=1"])

    def _wait_node_ready(self, timeout: float = 180) -> None:
        assert self.cp
        deadline = time.monotonic() + timeout
        conditions: dict = {}
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited ({proc.returncode}):\n{self.tail(name)}")
            resp = self.cp.api(f"/api/v1/nodes/{NODE_NAME}")
            if resp.status_code == 200:
                conditions = {c["type"]: c["status"] for c in resp.json()["status"].get("conditions", [])}
                if conditions.get("Ready") == "True":
                    return
            time.sleep(1)
        raise TimeoutError(f"node not Ready: {conditions}; kubelet log:\n{self.tail('kubelet')}")

    def tail(self, name: str, n: int = 4000) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace")[-n:] if path.exists() else ""

    # ---------------------------------------------------------------- objects

    def apply(self, objects: list[dict]) -> None:
        """Create objects through the API (what `kubectl create` does for these kinds)."""
        assert self.cp
        paths = {
            "Namespace": "/api/v1/namespaces",
            "ServiceAccount": "/api/v1/namespaces/{ns}/serviceaccounts",
            "ConfigMap": "/api/v1/namespaces/{ns}/configmaps",
            "Secret": "/api/v1/namespaces/{ns}/secrets",
            "Service": "/api/v1/namespaces/{ns}/services",
            "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
            "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            "Role": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
            "RoleBinding": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
            "IngressClass": "/apis/networking.k8s.io/v1/ingressclasses",
            "CustomResourceDefinition": "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            "GatewayClass": "/apis/gateway.networking.k8s.io/v1/gatewayclasses",
            "Gateway": "/apis/gateway.networking.k8s.io/v1/namespaces/{ns}/gateways",
            "APIService": "/apis/apiregistration.k8s.io/v1/apiservices",
        }
        for obj in objects:
            path = paths[obj["kind"]].format(ns=obj["metadata"].get("namespace", "default"))
            resp = self.cp.api(path, "POST", json=obj)
            assert resp.status_code in (201, 409), f"{obj['kind']} {obj['metadata']['name']}: {resp.text}"

    def _coredns(self) -> None:
        objects = [o for o in yaml.safe_load_all((HERE / "coredns.yaml").read_text()) if o]
        for obj in objects:
            if obj["kind"] == "Deployment":
                obj["spec"]["template"]["spec"]["containers"][0]["image"] = self.images["coredns"]["ref"]
            if obj["kind"] == "Service":
                obj["spec"]["clusterIP"] = DNS_SERVICE_IP
        self.apply(objects)
        self.wait_deployments("kube-system", {"coredns"}, timeout=120)
        deadline = time.monotonic() + 60
        while True:
            try:  # until kube-proxy has the endpoint its rule REJECTs (EPERM) or drops (timeout)
                if dns_query(DNS_SERVICE_IP, f"kubernetes.default.svc.{CLUSTER_DOMAIN}"):
                    break
            except OSError as exc:
                assert time.monotonic() < deadline, f"cluster DNS never answered for kubernetes.default: {exc!r}"
            assert time.monotonic() < deadline, "cluster DNS never answered for kubernetes.default"
            time.sleep(1)

    def deployments(self, ns: str) -> dict[str, dict]:
        assert self.cp
        items = self.cp.api(f"/apis/apps/v1/namespaces/{ns}/deployments").json()["items"]
        return {d["metadata"]["name"]: d for d in items}

    def wait_deployments(self, ns: str, names: set[str], timeout: float) -> dict[str, dict]:
        deadline = time.monotonic() + timeout
        deps: dict[str, dict] = {}
        while time.monotonic() < deadline:
            deps = self.deployments(ns)
            if names <= set(deps) and all(available(deps[n]) for n in names):
                return deps
            time.sleep(1)
        raise AssertionError(f"not Available after {timeout}s: {self.pod_report(ns)}")

    def pods(self, ns: str, selector: str = "") -> list[dict]:
        assert self.cp
        q = f"?labelSelector={selector}" if selector else ""
        return self.cp.api(f"/api/v1/namespaces/{ns}/pods{q}").json()["items"]

    def pod_report(self, ns: str) -> str:
        lines = []
        for p in self.pods(ns):
            statuses = p["status"].get("containerStatuses", [])
            states = [f"{s['name']}:{list(s['state'])[0]}:{s['state'].get('waiting', {}).get('reason', '')}"
                      f":restarts={s['restartCount']}" for s in statuses]  # fmt: skip
            lines.append(f"{p['metadata']['name']} {p['status'].get('phase')} {states}")
        return "\n".join(lines)

    def service_ip(self, ns: str, name: str) -> str:
        assert self.cp
        return self.cp.api(f"/api/v1/namespaces/{ns}/services/{name}").json()["spec"]["clusterIP"]

    # ---------------------------------------------------------------- stop

    def processes_in_node(self) -> list[int]:
        """Every process in the node's network namespace (containerd shims, containers, ...)."""
        try:
            target = os.stat(self.netns).st_ino
        except FileNotFoundError:
            return []
        pids = []
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                try:
                    if os.stat(proc / "ns" / "net").st_ino == target:
                        pids.append(int(proc.name))
                except OSError:
                    pass
        return pids

    def processes_in_cgroups(self) -> list[int]:
        pids: set[int] = set()
        for hierarchy in Path("/sys/fs/cgroup").iterdir():
            root = hierarchy / self.cgroup_root.lstrip("/")
            if root.is_dir():
                for procs in root.rglob("cgroup.procs"):
                    pids.update(int(p) for p in procs.read_text().split())
        return sorted(pids)

    def stop(self) -> None:
        """Everything down: the daemons in reverse order, every process left in the node's
        namespaces or cgroups, the mounts, the namespaces, the cgroups."""
        me = os.getpid()
        for proc in reversed(self.procs.values()):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(self.procs.values()):
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if self.cp:
            self.cp.stop()
        for _ in range(3):  # shims and containers outlive containerd: end them by pid
            stray = [p for p in set(self.processes_in_node()) | set(self.processes_in_cgroups()) if p != me]
            for pid in stray:
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
            if not stray:
                break
            time.sleep(0.5)
        if self.mntns.exists():
            sh("umount", str(self.mntns), check=False)
            sh("umount", str(self.mntns.parent), check=False)
        # overlay snapshots and volumes lived in the node's mount namespace: gone with it; the
        # host only ever saw the files
        sh("ip", "netns", "del", self.netns_name, check=False)
        for hierarchy in Path("/sys/fs/cgroup").iterdir():
            root = hierarchy / self.cgroup_root.lstrip("/")
            if root.is_dir():
                for d in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
                    d.rmdir()
                root.rmdir()
        # the images containerd unpacked and the pods' files: GBs a run; the logs stay
        if not [line for line in Path("/proc/self/mountinfo").read_text().splitlines() if str(self.workdir) in line]:
            for d in ("containerd/root", "containerd/state", "kubelet"):
                shutil.rmtree(self.workdir / d, ignore_errors=True)

    def leftovers(self) -> list[str]:
        """What survived `stop` (should be nothing)."""
        found = []
        if self.processes_in_cgroups():
            found.append(f"processes in {self.cgroup_root}: {self.processes_in_cgroups()}")
        names = sh("ip", "netns", "list").stdout
        if self.netns_name in names:
            found.append(f"network namespace {self.netns_name}")
        mounts = Path("/proc/self/mountinfo").read_text()
        mine = [line for line in mounts.splitlines() if str(self.workdir) in line]
        if mine:
            found.append(f"mounts under {self.workdir}: {mine[:5]}")
        cgroups = [str(h) for h in Path("/sys/fs/cgroup").iterdir() if (h / self.cgroup_root.lstrip("/")).exists()]
        if cgroups:
            found.append(f"cgroups {self.cgroup_root} in {cgroups}")
        daemons = [name for name, p in self.procs.items() if p.poll() is None]
        if daemons:
            found.append(f"daemons still running: {daemons}")
        return found


def available(d: dict) -> bool:
    conds = {c["type"]: c["status"] for c in d.get("status", {}).get("conditions", [])}
    replicas = d["spec"].get("replicas", 1)
    return conds.get("Available") == "True" and d["status"].get("readyReplicas", 0) >= replicas
