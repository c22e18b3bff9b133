"""Helpers of the chart checks: build/find the tools, render the chart, and the policy
checker every rendered container must pass (also fed deliberately broken input)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = Path(os.environ.get("GAS_CHART_DIR", ROOT / "charts" / "gas"))
VALUES = Path(__file__).resolve().parent / "values"
TOOLS_BIN = Path(os.environ.get("GAS_TOOLS_BIN", ROOT / ".cache" / "bin"))
HELM = TOOLS_BIN / "helm"
VALIDATOR = TOOLS_BIN / "gas-k8s-validate"
HADOLINT = ROOT / ".venv" / "bin" / "hadolint"

# The three values sets every check runs on: chart defaults (+ the Secret they require),
# dev (kind), production-like.
VALUE_SETS = {
    "default": [VALUES / "minimal.yaml"],  # MINIMAL
    "dev": [ROOT / "k8s" / "values-dev.yaml"],
    "production": [VALUES / "production.yaml"],
}

STANDARD_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "helm.sh/chart",
)
POD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "Pod"}
# Components whose pods talk to the Kubernetes API (and so mount a ServiceAccount token);
# a worker may too, for its own pod's deletion cost, when the policy fences its account.
API_CLIENTS = {"operator"}


def fenced_accounts(objs: list[dict]) -> set[str]:
    """The ServiceAccounts a ValidatingAdmissionPolicy of the release limits to their own
    pod's deletion cost (its match condition lists them; a binding puts it in force)."""
    bound = {o["spec"]["policyName"] for o in objs if o.get("kind") == "ValidatingAdmissionPolicyBinding"}
    users: set[str] = set()
    for o in objs:
        if o.get("kind") == "ValidatingAdmissionPolicy" and o["metadata"]["name"] in bound:
            for condition in o["spec"].get("matchConditions", []):
                users |= set(re.findall(r'"system:serviceaccount:[^":]+:([^"]+)"', condition["expression"]))
    return users


def fenced_worker(obj: dict, spec: dict, fenced: set[str]) -> bool:
    """A worker pod that sets its deletion cost, with a ServiceAccount the policy fences."""
    env = {e["name"]: e.get("value") for c in spec.get("containers", []) for e in c.get("env", [])}
    account = spec.get("serviceAccountName", "default")
    worker = pod_labels(obj).get("gas.example.org/worker") == "true"
    return worker and env.get("GAS_POD_DELETION_COST") == "true" and account in fenced


def install_tools() -> str | None:
    """Build helm + the validator (cached); None on success, else why not."""
    if shutil.which("go") is None and not (HELM.exists() and VALIDATOR.exists()):
        return "go is not installed (needed to build helm and the validator)"
    proc = subprocess.run([str(ROOT / "tools" / "install-helm.sh")], capture_output=True, text=True)
    if proc.returncode != 0:
        return f"tools/install-helm.sh failed: {proc.stderr.strip().splitlines()[-1:]}"
    return None


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(HELM), *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{proc.stderr}")
    return proc


def values_args(files: list[Path], sets: list[str] = ()) -> list[str]:
    args: list[str] = []
    for f in files:
        args += ["-f", str(f)]
    for s in sets:
        args += ["--set", s]
    return args


MINIMAL = VALUES / "minimal.yaml"


def render(
    files: list[Path] = (),
    sets: list[str] = (),
    check: bool = True,
    minimal: bool = True,
    extra: list[str] = (),
    chart: Path = CHART,
) -> subprocess.CompletedProcess:
    """helm template, by default over the minimal production values (the Secret the chart
    requires); extra: more helm flags (--kube-version, --api-versions)."""
    args = values_args([MINIMAL, *files] if minimal else list(files), list(sets))
    return helm("template", "gas", str(chart), "--namespace", "gas", *args, *extra, check=check)


def objects(manifest: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(manifest) if d]


CRD_DIR = CHART / "crds"
# KEDA v2.21.1's ScaledObject and TriggerAuthentication CRDs (test_chart_keda.py says whence):
# a worker with `autoscaler: keda` renders those kinds.
KEDA_CRDS = sorted((ROOT / "tests" / "chart" / "fixtures" / "keda-v2.21.1").glob("*.yaml"))


def crd_schemas(crd_files: list[Path] | None = None) -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) -> openAPIV3Schema of every served version of the chart's CRDs
    (and KEDA's)."""
    out: dict[tuple[str, str], dict] = {}
    files = crd_files if crd_files is not None else [*sorted(CRD_DIR.glob("*.yaml")), *KEDA_CRDS]
    for f in files:
        for crd in objects(Path(f).read_text()):
            if crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for v in crd["spec"]["versions"]:
                out[(f"{group}/{v['name']}", kind)] = v["schema"]["openAPIV3Schema"]
    return out


def _strict(schema: dict) -> dict:
    """The API server prunes (and with strict field validation rejects) fields a structural
    schema does not declare: express that in JSON Schema with additionalProperties: false."""
    schema = dict(schema)
    for k in [k for k in schema if k.startswith("x-kubernetes-")]:
        if k == "x-kubernetes-int-or-string":
            schema.pop("type", None)
        schema.pop(k) if k != "x-kubernetes-preserve-unknown-fields" else None
    preserve = schema.pop("x-kubernetes-preserve-unknown-fields", False)
    if "properties" in schema:
        schema["properties"] = {k: _strict(v) for k, v in schema["properties"].items()}
        if not preserve and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
    if isinstance(schema.get("additionalProperties"), dict):
        schema["additionalProperties"] = _strict(schema["additionalProperties"])
    if isinstance(schema.get("items"), dict):
        schema["items"] = _strict(schema["items"])
    return schema


def validate_custom(obj: dict, schema: dict) -> list[str]:
    import jsonschema

    full = _strict(schema)
    full.setdefault("properties", {})
    full["properties"].update(
        {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"}}
    )
    full["additionalProperties"] = False
    where = f"{obj.get('apiVersion')}/{obj.get('kind')} {obj.get('metadata', {}).get('name')!r}"
    problems = [
        f"{where}: {'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in jsonschema.Draft7Validator(full).iter_errors(obj)
    ]
    if not obj.get("metadata", {}).get("name"):
        problems.append(f"{where}: metadata.name is required")
    return problems


def validate(manifest: str, crd_files: list[Path] | None = None) -> subprocess.CompletedProcess:
    """Built-in kinds: gas-k8s-validate (strict decoding into the k8s.io/api Go types).
    Custom resources of the chart's CRDs: their openAPIV3Schema, unknown fields rejected."""
    crds = crd_schemas(crd_files)
    builtin, problems, n_custom = [], [], 0
    for obj in objects(manifest):
        key = (obj.get("apiVersion"), obj.get("kind"))
        if key in crds:
            n_custom += 1
            problems += validate_custom(obj, crds[key])
        else:
            builtin.append(obj)
    proc = subprocess.run(
        [str(VALIDATOR), "-"], input=yaml.safe_dump_all(builtin) if builtin else "", capture_output=True, text=True
    )
    stdout = proc.stdout + "".join(p + "\n" for p in problems)
    rc = 1 if (proc.returncode != 0 or problems) else 0
    stderr = proc.stderr + (
        f"custom resources: {n_custom} checked against their CRD schema, {len(problems)} problem(s)\n"
        if n_custom
        else ""
    )
    return subprocess.CompletedProcess(proc.args, rc, stdout, stderr)


def pod_spec(obj: dict) -> dict | None:
    kind = obj.get("kind")
    if kind not in POD_KINDS:
        return None
    if kind == "Pod":
        return obj.get("spec", {})
    return obj.get("spec", {}).get("template", {}).get("spec", {})


def pod_labels(obj: dict) -> dict:
    if obj.get("kind") == "Pod":
        return obj.get("metadata", {}).get("labels") or {}
    return obj.get("spec", {}).get("template", {}).get("metadata", {}).get("labels") or {}


def policy_violations(objs: list[dict]) -> list[str]:
    """Every object: standard labels. Every pod: non-root, seccomp, no SA token. Every
    container: read-only root FS, no privilege escalation, caps drop ALL, resources
    (requests + memory limit), probes on long-running containers, never GAS_LOCAL_SIGNIN."""
    problems: list[str] = []
    fenced = fenced_accounts(objs)
    for obj in objs:
        kind = obj.get("kind", "?")
        name = obj.get("metadata", {}).get("name", "?")
        where = f"{kind}/{name}"
        labels = obj.get("metadata", {}).get("labels") or {}
        for label in STANDARD_LABELS:
            if not labels.get(label):
                problems.append(f"{where}: missing label {label}")
        spec = pod_spec(obj)
        if spec is None:
            continue
        plabels = pod_labels(obj)
        for label in STANDARD_LABELS:
            if not plabels.get(label):
                problems.append(f"{where}: pod template missing label {label}")
        psc = spec.get("securityContext") or {}
        if psc.get("runAsNonRoot") is not True:
            problems.append(f"{where}: pod securityContext.runAsNonRoot is not true")
        if psc.get("runAsUser") in (None, 0):
            problems.append(f"{where}: pod runs as root (runAsUser {psc.get('runAsUser')})")
        if (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
            problems.append(f"{where}: seccompProfile is not RuntimeDefault")
        api_client = plabels.get("app.kubernetes.io/component") in API_CLIENTS or fenced_worker(obj, spec, fenced)
        if spec.get("automountServiceAccountToken") is not api_client:
            problems.append(f"{where}: automountServiceAccountToken is not {str(api_client).lower()}")
        if spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC"):
            problems.append(f"{where}: uses host namespaces")
        long_running = kind in {"Deployment", "StatefulSet", "DaemonSet"}
        for c in spec.get("initContainers", []) + spec.get("containers", []):
            cw = f"{where} container {c.get('name')}"
            sc = c.get("securityContext") or {}
            if sc.get("runAsUser") == 0:
                problems.append(f"{cw}: runs as root (runAsUser 0)")
            if sc.get("runAsNonRoot") is False:
                problems.append(f"{cw}: runAsNonRoot is false")
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{cw}: readOnlyRootFilesystem is not true")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{cw}: allowPrivilegeEscalation is not false")
            if sc.get("privileged"):
                problems.append(f"{cw}: privileged")
            if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
                problems.append(f"{cw}: capabilities do not drop ALL")
            if (sc.get("capabilities") or {}).get("add"):
                problems.append(f"{cw}: adds capabilities")
            res = c.get("resources") or {}
            if not (res.get("requests") or {}).get("cpu") or not (res.get("requests") or {}).get("memory"):
                problems.append(f"{cw}: no cpu/memory requests")
            if not (res.get("limits") or {}).get("memory"):
                problems.append(f"{cw}: no memory limit")
            # Init containers run to completion first: Kubernetes refuses probes on them.
            if long_running and c not in spec.get("initContainers", []):
                for probe in ("livenessProbe", "readinessProbe"):
                    if not c.get(probe):
                        problems.append(f"{cw}: no {probe}")
            if (
                not c.get("image")
                or c["image"].endswith(":latest")
                or ":" not in c["image"].rsplit("/", 1)[-1]
                and "@" not in c["image"]
            ):
                problems.append(f"{cw}: image {c.get('image')!r} is not pinned to a tag or digest")
            for env in c.get("env") or []:
                if env.get("name", "").upper() == "GAS_LOCAL_SIGNIN":
                    problems.append(f"{cw}: sets GAS_LOCAL_SIGNIN")
    return problems
