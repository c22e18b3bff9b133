"""Start an image the way a pod spec of the chart says, with runc (Debian) and no Kubernetes.

A `Pod` is one network namespace (what the pause container holds in a real pod: loopback
only, plus an /etc/hosts) whose containers each are a runc container built from:

- the image: its docker-archive (tools/images/build.py) unpacked to a root filesystem once
  per image hash (~/.cache/gas/images/rootfs), mounted read-only when the spec says so;
- the rendered pod spec: command/args over the image's entrypoint/cmd, env (envFrom the
  ConfigMap, then env, valueFrom the Secret), runAsUser/runAsGroup, fsGroup as a
  supplementary group, capabilities (drop ALL leaves none), no_new_privs, the memory
  limit (a cgroup), and the volumes: an emptyDir is a fresh directory owned by the
  fsGroup (setgid, as the kubelet makes it), `medium: Memory` a tmpfs of its sizeLimit.

What a kubelet does and this does not: seccomp RuntimeDefault (containerd's built-in
profile: the one-node cluster test runs that), probes (the tests call the endpoints).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOTFS_CACHE = Path(os.environ.get("GAS_IMAGES_CACHE", Path.home() / ".cache" / "gas" / "images")) / "rootfs"
CGROUP_PARENT = "gas-image-test"


def quantity_bytes(text: str) -> int:
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "K": 1000, "M": 10**6, "G": 10**9}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * factor)
    return int(text)


# ------------------------------------------------------------------ images


def _apply_layer(layer: tarfile.TarFile, root: Path) -> None:
    """One layer over the tree below it: whiteouts first, then the layer's files."""
    members = layer.getmembers()
    for m in members:
        path = Path(m.name)
        if path.name == ".wh..wh..opq":  # opaque dir: nothing from the layers below survives
            target = root / path.parent
            for child in target.iterdir() if target.is_dir() else ():
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
        elif path.name.startswith(".wh."):
            target = root / path.parent / path.name.removeprefix(".wh.")
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
    keep = [m for m in members if not Path(m.name).name.startswith(".wh.")]
    layer.extractall(root, members=keep, numeric_owner=True, filter="fully_trusted")


def unpack(image: dict) -> tuple[Path, dict]:
    """(root filesystem, image config) of a docker-archive; unpacked once per image hash."""
    root = ROOTFS_CACHE / f"{image['name']}-{image['key'][:16]}"
    with tarfile.open(image["archive"]) as archive:
        (manifest,) = json.load(archive.extractfile("manifest.json"))
        config = json.load(archive.extractfile(manifest["Config"]))["config"]
        if not (root / ".unpacked").exists():
            tmp = root.with_name(root.name + f".tmp{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            for name in manifest["Layers"]:
                with tarfile.open(fileobj=archive.extractfile(name)) as layer:
                    _apply_layer(layer, tmp)
            (tmp / ".unpacked").touch()
            try:
                os.replace(tmp, root)
            except OSError:  # another test run unpacked it meanwhile
                if not (root / ".unpacked").exists():
                    raise
                shutil.rmtree(tmp)
    return root, config


# ------------------------------------------------------------------ pod specs


@dataclass
class Rendered:
    """The chart rendered with some values: pod specs by component, plus ConfigMaps and Secrets."""

    objects: list[dict]

    def pod(self, component: str) -> dict:
        for obj in self.objects:
            if obj["kind"] in ("Deployment", "Job"):
                template = obj["spec"]["template"]
                if template["metadata"]["labels"].get("app.kubernetes.io/component") == component:
                    return template["spec"]
        raise KeyError(f"no Deployment/Job of component {component!r}")

    def data(self, kind: str, name: str) -> dict[str, str]:
        for obj in self.objects:
            if obj["kind"] == kind and obj["metadata"]["name"] == name:
                if kind == "Secret":
                    return {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}
                return dict(obj.get("data") or {})
        raise KeyError(f"no {kind} {name}")

    def env(self, container: dict) -> dict[str, str]:
        """The container's environment as the kubelet assembles it (envFrom, then env)."""
        env: dict[str, str] = {}
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                env.update(self.data("ConfigMap", source["configMapRef"]["name"]))
            else:
                env.update(self.data("Secret", source["secretRef"]["name"]))
        for var in container.get("env", []):
            if "value" in var:
                env[var["name"]] = var["value"]
                continue
            ref = var["valueFrom"].get("secretKeyRef") or var["valueFrom"].get("configMapKeyRef")
            if ref is None:
                raise ValueError(f"{var['name']}: only Secret and ConfigMap references resolve here")
            kind = "Secret" if "secretKeyRef" in var["valueFrom"] else "ConfigMap"
            values = self.data(kind, ref["name"])
            if ref["key"] in values:
                env[var["name"]] = values[ref["key"]]
            elif not ref.get("optional"):
                raise KeyError(f"{var['name']}: {kind} {ref['name']} has no key {ref['key']}")
        return env


# ------------------------------------------------------------------ runc


def runc(*args: str, state: Path, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["runc", "--root", str(state), *args], **kw)


@dataclass
class Container:
    id: str
    bundle: Path
    log: Path
    state: Path

    def pid(self) -> int:
        out = runc("state", self.id, state=self.state, capture_output=True, text=True, check=True).stdout
        return json.loads(out)["pid"]

    def running(self) -> bool:
        out = runc("state", self.id, state=self.state, capture_output=True, text=True)
        return out.returncode == 0 and json.loads(out.stdout)["status"] == "running"

    def exec(self, *argv: str) -> subprocess.CompletedProcess:
        """Run a process in the container as its own user (runc exec takes the spec's)."""
        return runc("exec", self.id, *argv, state=self.state, capture_output=True, text=True, timeout=60)

    def logs(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Pod:
    """Containers sharing one network namespace, like a pod's; torn down by `stop`."""

    workdir: Path
    name: str
    hosts: dict[str, str] = field(default_factory=dict)  # extra /etc/hosts names -> address
    containers: list[Container] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.id = f"gasimg-{uuid.uuid4().hex[:8]}"
        self.state = self.workdir / "runc-state"
        self.state.mkdir(parents=True, exist_ok=True)
        subprocess.run(["ip", "netns", "add", self.id], check=True)
        subprocess.run(["ip", "-n", self.id, "link", "set", "lo", "up"], check=True)
        etc = self.workdir / "etc"
        etc.mkdir(exist_ok=True)
        names = "".join(f"{addr}\t{host}\n" for host, addr in self.hosts.items())
        (etc / "hosts").write_text(f"127.0.0.1\tlocalhost\n::1\tlocalhost\n127.0.1.1\t{self.name}\n{names}")
        (etc / "resolv.conf").write_text("")  # no DNS in here: names come from /etc/hosts
        (etc / "hostname").write_text(self.name + "\n")

    @property
    def netns(self) -> str:
        return f"/run/netns/{self.id}"

    def volume_dir(self, cid: str, pod_spec: dict, volume: dict) -> tuple[str, str, list[str]]:
        """(type, source, options) of a pod volume, as the kubelet would provide it: each
        container started here stands for a pod of its own, so it gets its own volumes."""
        empty = volume.get("emptyDir")
        if empty is None:
            raise ValueError(f"volume {volume['name']}: only emptyDir is used by the chart's pods")
        if empty.get("medium") == "Memory":
            size = quantity_bytes(empty.get("sizeLimit", "64Mi"))
            gid = (pod_spec.get("securityContext") or {}).get("fsGroup", 0)
            return "tmpfs", "tmpfs", ["nosuid", "nodev", f"size={size}", "mode=2777", f"gid={gid}"]
        path = self.workdir / cid / "volumes" / volume["name"]
        if not path.exists():
            path.mkdir(parents=True)
            fs_group = (pod_spec.get("securityContext") or {}).get("fsGroup")
            if fs_group is not None:
                os.chown(path, 0, fs_group)
            path.chmod(0o2777)
        return "bind", str(path), ["rbind", "rw"]

    def spec(
        self,
        cid: str,
        rootfs: Path,
        image_config: dict,
        container: dict,
        pod_spec: dict,
        env: dict[str, str],
        extra_mounts: list[dict],
    ) -> dict:
        bundle = self.workdir / cid
        bundle.mkdir(parents=True, exist_ok=True)
        subprocess.run(["runc", "spec", "--bundle", str(bundle)], check=True)
        spec = json.loads((bundle / "config.json").read_text())
        psc = pod_spec.get("securityContext") or {}
        csc = container.get("securityContext") or {}
        uid = csc.get("runAsUser", psc.get("runAsUser", 0))
        gid = csc.get("runAsGroup", psc.get("runAsGroup", 0))
        argv = container.get("command") or image_config.get("Entrypoint") or []
        argv = argv + (container.get("args") or ([] if container.get("command") else image_config.get("Cmd") or []))
        image_env = dict(e.split("=", 1) for e in image_config.get("Env") or [])
        process = spec["process"]
        process.update(
            terminal=False,
            args=argv,
            env=[f"{k}={v}" for k, v in {**image_env, **env}.items()],
            cwd=image_config.get("WorkingDir") or "/",
            noNewPrivileges=csc.get("allowPrivilegeEscalation") is False,
            user={"uid": uid, "gid": gid, "additionalGids": [psc["fsGroup"]] if "fsGroup" in psc else []},
        )
        caps: list[str] = (
            [] if "ALL" in (csc.get("capabilities") or {}).get("drop", []) else process["capabilities"]["bounding"]
        )
        caps += [f"CAP_{c}" for c in (csc.get("capabilities") or {}).get("add", [])]
        process["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted", "inheritable", "ambient")}
        process.pop("rlimits", None)
        spec["root"] = {"path": str(rootfs), "readonly": bool(csc.get("readOnlyRootFilesystem"))}
        spec["hostname"] = self.name
        etc = self.workdir / "etc"
        mounts = list(spec["mounts"])
        for name in ("hosts", "resolv.conf", "hostname"):
            mounts.append(
                {"destination": f"/etc/{name}", "type": "bind", "source": str(etc / name), "options": ["rbind", "ro"]}
            )
        volumes = {v["name"]: v for v in pod_spec.get("volumes", [])}
        for vm in container.get("volumeMounts", []):
            kind, source, options = self.volume_dir(cid, pod_spec, volumes[vm["name"]])
            mounts.append({"destination": vm["mountPath"], "type": kind, "source": source, "options": options})
        spec["mounts"] = mounts + extra_mounts
        linux = spec["linux"]
        linux["namespaces"] = [ns for ns in linux["namespaces"] if ns["type"] != "network"]
        linux["namespaces"].append({"type": "network", "path": self.netns})
        linux["cgroupsPath"] = f"/{CGROUP_PARENT}/{self.id}-{cid}"
        limit = ((container.get("resources") or {}).get("limits") or {}).get("memory")
        linux["resources"] = {"devices": [{"allow": False, "access": "rwm"}]}
        if limit:
            linux["resources"]["memory"] = {"limit": quantity_bytes(limit)}
        (bundle / "config.json").write_text(json.dumps(spec, indent=1))
        return spec

    def _container(self, cid: str) -> Container:
        return Container(f"{self.id}-{cid}", self.workdir / cid, self.workdir / f"{cid}.log", self.state)

    def start(self, cid: str, rootfs: Path, image_config: dict, container: dict, pod_spec: dict, env: dict[str, str],
              extra_mounts: list[dict] | None = None) -> Container:  # fmt: skip
        """Start a long-running container (detached; its output goes to <workdir>/<cid>.log)."""
        self.spec(cid, rootfs, image_config, container, pod_spec, env, extra_mounts or [])
        c = self._container(cid)
        with open(c.log, "wb") as log:
            runc("run", "--detach", "--bundle", str(c.bundle), c.id, state=self.state, check=True,
                 stdin=subprocess.DEVNULL, stdout=log, stderr=log, timeout=60)  # fmt: skip
        self.containers.append(c)
        return c

    def run(self, cid: str, rootfs: Path, image_config: dict, container: dict, pod_spec: dict, env: dict[str, str],
            extra_mounts: list[dict] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:  # fmt: skip
        """Run a container to completion (a Job's, or a one-off command): its exit code and output."""
        self.spec(cid, rootfs, image_config, container, pod_spec, env, extra_mounts or [])
        c = self._container(cid)
        try:
            return runc("run", "--bundle", str(c.bundle), c.id, state=self.state, stdin=subprocess.DEVNULL,
                        capture_output=True, text=True, timeout=timeout)  # fmt: skip
        finally:
            runc("delete", "--force", c.id, state=self.state, capture_output=True)

    def http(self, port: int, path: str, timeout: float = 5) -> tuple[int, str]:
        """GET http://127.0.0.1:<port><path> from inside the pod's network namespace."""
        code = (
            "import sys, urllib.request, urllib.error\n"
            "try:\n"
            f"    r = urllib.request.urlopen('http://127.0.0.1:{port}{path}', timeout={timeout})\n"
            "    print(r.status); sys.stdout.write(r.read().decode(errors='replace'))\n"
            "except urllib.error.HTTPError as e:\n"
            "    print(e.code); sys.stdout.write(e.read().decode(errors='replace'))\n"
            "except OSError as e:\n"
            "    print(0); sys.stdout.write(repr(e))\n"
        )
        out = subprocess.run(
            ["nsenter", f"--net={self.netns}", sys.executable, "-c", code],
            capture_output=True, text=True, timeout=timeout + 10,
        ).stdout  # fmt: skip
        status, _, body = out.partition("\n")
        return int(status or 0), body

    def wait_http(self, c: Container, port: int, path: str, timeout: float = 60) -> tuple[int, str]:
        """Poll until the endpoint answers 200; fail early (with the logs) if the container exits."""
        deadline = time.monotonic() + timeout
        last: tuple[int, str] = (0, "")
        while time.monotonic() < deadline:
            last = self.http(port, path)
            if last[0] == 200:
                return last
            if not c.running():
                raise AssertionError(f"{c.id} exited before {path} answered; its output:\n{c.logs()[-3000:]}")
            time.sleep(0.5)
        raise AssertionError(f"{path} on :{port} never answered 200 (last {last}); output:\n{c.logs()[-3000:]}")

    def stop_container(self, c: Container) -> None:
        runc("kill", c.id, "TERM", state=self.state, capture_output=True)
        deadline = time.monotonic() + 30
        while c.running() and time.monotonic() < deadline:
            time.sleep(0.2)
        runc("delete", "--force", c.id, state=self.state, capture_output=True)
        self.containers.remove(c)

    def stop(self) -> None:
        for c in reversed(self.containers):
            if c.running():
                runc("kill", c.id, "TERM", state=self.state, capture_output=True)
        deadline = time.monotonic() + 10
        while any(c.running() for c in self.containers) and time.monotonic() < deadline:
            time.sleep(0.2)
        for c in self.containers:
            runc("delete", "--force", c.id, state=self.state, capture_output=True)
        self.containers.clear()
        subprocess.run(["ip", "netns", "del", self.id], capture_output=True)
        for hierarchy in Path("/sys/fs/cgroup").iterdir():
            parent = hierarchy / CGROUP_PARENT
            for leaf in parent.glob(f"{self.id}-*") if parent.is_dir() else ():
                leaf.rmdir()
