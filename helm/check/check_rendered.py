"""Checks of what `helm template` rendered, run by scripts/chart-check.

1. Every manifest against the Kubernetes API schemas of one version
   (kubernetes-validate, strict: unknown fields are errors; offline — the
   schemas ship inside the package). ServiceMonitor is a CRD, not in those
   schemas: it is checked against servicemonitor.schema.json beside this
   file (the fields of monitoring.coreos.com/v1 the chart writes).
2. What the schemas cannot see: every container non-root with a read-only
   root filesystem, no privilege escalation and no capabilities; every pod
   with the RuntimeDefault seccomp profile; every coordinator probed on
   /healthz and /readyz of its admin port; every Deployment covered by a
   PodDisruptionBudget; every Service selecting pods that have the named
   target ports; every mounted volume and ConfigMap defined.
3. Every angzarr.yaml in a ConfigMap (and any --config-file) uses only keys
   that the configuration code knows: the fields of the structs in
   coordinators/src/config, read from the source, not from a list kept here.

Prints one line per file and exits 1 on the first file with a problem
(after reporting all problems of that run).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

# --- 3. configuration keys, from the Rust source -------------------------

PRIMITIVES = {
    "String", "bool", "u8", "u16", "u32", "u64", "usize", "i32", "i64", "f64",
    "Duration", "SocketAddr", "PathBuf", "Durability",
}

# `log:` (and `storage:`) are read by hand-written code (`tagged.rs`) that
# picks a settings struct by the `type` key; serde attributes cannot say
# which, so the choice is written here.
TAGGED = {"LogConfig": {"kafka": "KafkaLogConfig", "embedded": "EmbeddedFields"}}


class RustStructs:
    """The fields of the serde structs of the configuration code."""

    def __init__(self, source: Path):
        files = [source] if source.is_file() else sorted(source.rglob("*.rs"))
        if not files:
            raise SystemExit(f"no Rust sources at {source}")
        self.files = files
        self.structs: dict[str, dict[str, str]] = {}
        self.redirect: dict[str, str] = {}
        for f in files:
            self._parse(f.read_text())

    def _parse(self, text: str) -> None:
        # A struct with named fields, with the attributes just above it.
        pattern = re.compile(
            r"((?:#\[[^\]]*\]\s*)*)(?:pub(?:\([^)]*\))?\s+)?struct\s+(\w+)\s*\{(.*?)\n\}", re.S
        )
        for m in pattern.finditer(text):
            attrs, name, body = m.group(1), m.group(2), m.group(3)
            via = re.search(r'(?:try_from|from)\s*=\s*"(?:[\w:]*::)?(\w+)"', attrs)
            if via:
                self.redirect[name] = via.group(1)
            fields: dict[str, str] = {}
            pending: list[str] = []
            for line in body.splitlines():
                s = line.strip()
                if s.startswith("#["):
                    pending.append(s)
                    continue
                if s.startswith("//") or not s:
                    continue
                fm = re.match(r"(?:pub(?:\([^)]*\))?\s+)?(\w+)\s*:\s*(.+?),?$", s)
                if not fm:
                    pending = []
                    continue
                field, ty = fm.group(1), fm.group(2)
                serde = " ".join(a for a in pending if a.startswith("#[serde"))
                pending = []
                if re.search(r"\bskip(_deserializing)?\b", serde):
                    continue
                rename = re.search(r'rename\s*=\s*"([^"]+)"', serde)
                key = rename.group(1) if rename else field
                if "flatten" in serde:
                    fields[f"<flatten>{key}"] = ty
                    continue
                fields[key] = ty
                for alias in re.findall(r'alias\s*=\s*"([^"]+)"', serde):
                    fields[alias] = ty
            self.structs[name] = fields

    def fields(self, name: str) -> dict[str, str]:
        name = self.redirect.get(name, name)
        if name not in self.structs:
            raise KeyError(name)
        out: dict[str, str] = {}
        for k, ty in self.structs[name].items():
            if k.startswith("<flatten>"):
                out.update(self.fields(base_type(ty)[1]))
            else:
                out[k] = ty
        return out


def base_type(ty: str) -> tuple[str, str]:
    """('map'|'list'|'one', innermost type name) of a Rust field type."""
    ty = ty.replace(" ", "")
    kind = "one"
    while True:
        m = re.fullmatch(r"(?:[\w:]*::)?(Option|Box)<(.+)>", ty)
        if m:
            ty = m.group(2)
            continue
        m = re.fullmatch(r"(?:[\w:]*::)?(?:BTreeMap|HashMap)<String,(.+)>", ty)
        if m:
            return "map", base_type(m.group(1))[1]
        m = re.fullmatch(r"(?:[\w:]*::)?Vec<(.+)>", ty)
        if m:
            return "list", base_type(m.group(1))[1]
        # connectors' `kafka::Settings`: librdkafka key -> value (a map).
        if re.fullmatch(r"(?:[\w:]*::)?Settings", ty):
            return "map", "String"
        return kind, ty.split("::")[-1]


def check_config_keys(doc: object, rust: RustStructs, where: str) -> tuple[list[str], int]:
    """Unknown keys of one configuration document, and how many keys were checked."""
    problems: list[str] = []
    checked = 0

    def walk(value: object, type_name: str, path: str) -> None:
        nonlocal checked
        if type_name in PRIMITIVES or not isinstance(value, dict):
            return
        if type_name in TAGGED:
            tag = value.get("type")
            target = TAGGED[type_name].get(tag)
            if target is None:
                problems.append(f"{where}: {path}.type: {tag!r} is not one of {sorted(TAGGED[type_name])}")
                return
            checked += 1
            walk({k: v for k, v in value.items() if k != "type"}, target, path)
            return
        try:
            fields = rust.fields(type_name)
        except KeyError:
            problems.append(f"{where}: {path or 'top level'}: no struct `{type_name}` in the configuration code")
            return
        for key, sub in value.items():
            checked += 1
            here = f"{path}.{key}" if path else str(key)
            if key not in fields:
                known = ", ".join(sorted(fields))
                problems.append(f"{where}: unknown key `{here}` (the code knows: {known})")
                continue
            kind, inner = base_type(fields[key])
            if kind == "map" and isinstance(sub, dict):
                for k2, v2 in sub.items():
                    walk(v2, inner, f"{here}.{k2}")
            elif kind == "one":
                walk(sub, inner, here)

    walk(doc, "Config", "")
    return problems, checked


def check_config_refs(doc: dict, where: str) -> list[str]:
    """What Config::check refuses at start-up, so the chart never renders it."""
    problems = []
    domains = doc.get("domains") or {}
    if not domains:
        problems.append(f"{where}: no domains configured")
    for section in ("projectors", "sagas", "process_managers"):
        for name, p in (doc.get(section) or {}).items():
            for d in p.get("domains") or []:
                if d not in domains:
                    problems.append(f"{where}: {section}.{name} listens to `{d}`, which is not under domains")
    for name in doc.get("process_managers") or {}:
        if name in domains:
            problems.append(f"{where}: process manager `{name}` has the name of a domain")
    return problems


# --- 1 and 2. manifests ------------------------------------------------------

POD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}


def pod_spec(m: dict) -> dict | None:
    if m.get("kind") in POD_KINDS:
        return m["spec"]["template"]["spec"]
    return None


def policy_problems(m: dict, where: str) -> list[str]:
    spec = pod_spec(m)
    if spec is None:
        return []
    name = f"{where}: {m['kind']}/{m['metadata']['name']}"
    out = []
    psc = spec.get("securityContext") or {}
    if (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        out.append(f"{name}: pod seccompProfile is not RuntimeDefault")
    if spec.get("automountServiceAccountToken") is not False:
        out.append(f"{name}: the service-account token is mounted")
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        sc = c.get("securityContext") or {}
        cn = f"{name} container {c['name']}"
        if not (sc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
            out.append(f"{cn}: may run as root")
        if sc.get("readOnlyRootFilesystem") is not True:
            out.append(f"{cn}: root filesystem is writable")
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{cn}: privilege escalation allowed")
        if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            out.append(f"{cn}: capabilities not dropped")
        if not (c.get("resources") or {}).get("requests"):
            out.append(f"{cn}: no resource requests")
        for vm in c.get("volumeMounts") or []:
            if vm["name"] not in volumes:
                out.append(f"{cn}: mounts undefined volume {vm['name']}")
        if c.get("args", [None])[0] == "coordinator":
            ports = {p.get("name") for p in c.get("ports") or []}
            live = ((c.get("livenessProbe") or {}).get("httpGet") or {})
            ready = ((c.get("readinessProbe") or {}).get("httpGet") or {})
            if (live.get("path"), live.get("port")) != ("/healthz", "admin"):
                out.append(f"{cn}: liveness is not GET /healthz on the admin port")
            if (ready.get("path"), ready.get("port")) != ("/readyz", "admin"):
                out.append(f"{cn}: readiness is not GET /readyz on the admin port")
            if "admin" not in ports:
                out.append(f"{cn}: no admin port")
    return out


def reference_problems(manifests: list[dict], where: str) -> list[str]:
    out = []
    configmaps = {m["metadata"]["name"] for m in manifests if m["kind"] == "ConfigMap"}
    workloads = [m for m in manifests if pod_spec(m) is not None]
    pdbs = [m for m in manifests if m["kind"] == "PodDisruptionBudget"]

    def selects(selector: dict, labels: dict) -> bool:
        return all(labels.get(k) == v for k, v in selector.items())

    for w in workloads:
        spec = pod_spec(w)
        labels = w["spec"]["template"]["metadata"].get("labels") or {}
        name = f"{where}: {w['kind']}/{w['metadata']['name']}"
        for v in spec.get("volumes") or []:
            cm = (v.get("configMap") or {}).get("name")
            if cm and cm not in configmaps:
                out.append(f"{name}: volume {v['name']} names ConfigMap {cm}, which is not rendered")
        if w["kind"] == "Deployment" and not any(
            selects(p["spec"]["selector"]["matchLabels"], labels) for p in pdbs
        ):
            out.append(f"{name}: no PodDisruptionBudget covers it")
    for s in (m for m in manifests if m["kind"] == "Service"):
        sel = s["spec"].get("selector") or {}
        targets = [w for w in workloads if selects(sel, w["spec"]["template"]["metadata"].get("labels") or {})]
        name = f"{where}: Service/{s['metadata']['name']}"
        if not targets:
            out.append(f"{name}: selects no pods")
            continue
        for port in s["spec"]["ports"]:
            tp = port.get("targetPort")
            if isinstance(tp, str):
                for w in targets:
                    named = {p.get("name") for c in pod_spec(w)["containers"] for p in c.get("ports") or []}
                    if tp not in named:
                        out.append(f"{name}: targetPort {tp} is not a port of {w['metadata']['name']}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kube-version", required=True)
    ap.add_argument("--servicemonitor-schema", required=True, type=Path)
    ap.add_argument("--config-source", required=True, type=Path, help="coordinators/src/config(.rs)")
    ap.add_argument("--config-file", action="append", default=[], type=Path,
                    help="a configuration file to check the keys of (besides those in ConfigMaps)")
    ap.add_argument("rendered", nargs="*", type=Path)
    args = ap.parse_args()

    rust = RustStructs(args.config_source)
    sm_schema = json.loads(args.servicemonitor_schema.read_text())
    failed = False

    for f in args.rendered:
        manifests = [m for m in yaml.safe_load_all(f.read_text()) if m]
        problems: list[str] = []
        kinds: Counter[str] = Counter()
        crd_checked = 0
        config_keys = 0
        for m in manifests:
            kinds[m["kind"]] += 1
            name = f"{f.name}: {m['kind']}/{m['metadata']['name']}"
            try:
                if m["kind"] == "ServiceMonitor":
                    jsonschema.Draft7Validator(sm_schema).validate(m)
                    crd_checked += 1
                else:
                    kubernetes_validate.validate(m, args.kube_version, strict=True)
            except jsonschema.ValidationError as e:
                path = "/".join(str(p) for p in e.absolute_path)
                problems.append(f"{name}: {path}: {e.message}")
            except kubernetes_validate.utils.SchemaNotFoundError as e:
                problems.append(f"{name}: no schema: {e}")
            problems += policy_problems(m, f.name)
            if m["kind"] == "ConfigMap" and "angzarr.yaml" in (m.get("data") or {}):
                doc = yaml.safe_load(m["data"]["angzarr.yaml"])
                where = f"{f.name}: ConfigMap/{m['metadata']['name']}"
                p, n = check_config_keys(doc, rust, where)
                problems += p + check_config_refs(doc, where)
                config_keys += n
        problems += reference_problems(manifests, f.name)
        summary = ", ".join(f"{k}×{n}" for k, n in sorted(kinds.items()))
        if problems:
            failed = True
            print(f"  FAIL {f.name}: {len(problems)} problem(s)")
            for p in problems:
                print(f"       {p}")
        else:
            crd = f"; ServiceMonitor×{crd_checked} against {args.servicemonitor_schema.name}" if crd_checked else ""
            print(f"  ok   {f.name}: {len(manifests)} manifests valid against Kubernetes {args.kube_version} "
                  f"(strict){crd}; pod policy and references ok; {config_keys} config keys known to "
                  f"{args.config_source} [{summary}]")

    for f in args.config_file:
        text = re.sub(r"\$\{[^}]*\}", "x", f.read_text())  # values do not matter here, keys do
        doc = yaml.safe_load(text)
        p, n = check_config_keys(doc, rust, f.name)
        p += check_config_refs(doc, f.name)
        if p:
            failed = True
            print(f"  FAIL {f}: " + "; ".join(p))
        else:
            print(f"  ok   {f}: {n} config keys known to {args.config_source}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
