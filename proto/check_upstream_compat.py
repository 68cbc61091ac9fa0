#!/usr/bin/env python3
"""Check that our .proto contract stays wire-compatible with upstream Angzarr.

Upstream's published Python client (PyPI `angzarr-client`, e.g. 0.3.1) ships
generated `*_pb2.py` modules; each embeds its serialized FileDescriptorProto.
This script reads those descriptors and compares them with the descriptors of
the files in this folder:

* every upstream message must exist here, and every upstream field must exist
  here with the same number, name, type, label, proto3 `optional`-ness and oneof;
* every upstream enum value must exist here with the same number;
* every upstream service method must exist here with the same request and
  response types, streaming and `google.api.http` binding;
* every upstream message must be declared in the same file (upstream clients
  import e.g. `angzarr/types.proto`).

Anything we have that upstream lacks, or any difference, must be listed in
DELIBERATE below (the seed's additions); otherwise it is reported as a failure.

Usage:
    python proto/check_upstream_compat.py UPSTREAM [--ours FILE.pb]
        [--packages angzarr,examples,google.api]

UPSTREAM is a directory holding the unpacked wheel (searched recursively for
`*_pb2.py`) or the `.whl` file itself. Without --ours the .proto files next to
this script are compiled with `grpc_tools.protoc` (pip install grpcio-tools)
or, failing that, a `protoc` on PATH.

Needs only the `protobuf` package (plus grpcio-tools or protoc to compile).
Exit status 0 = compatible (apart from the deliberate divergences).
"""

from __future__ import annotations

import argparse
import ast
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

from google.protobuf import descriptor_pb2 as dpb

HERE = pathlib.Path(__file__).resolve().parent
HTTP_OPTION = 72295728  # google.api.http extension number on MethodOptions

# Deliberate divergences from upstream, as seeded for angzarr-kafka.
# key -> why. Keys are the strings this script reports for a difference.
DELIBERATE = {
    "angzarr.Cover: added field 6 `ext`": "seed: Cover.ext = 6 (google.protobuf.Any)",
    "angzarr.Snapshot: added field 5 `created_at`": "seed: Snapshot.created_at = 5",
    "angzarr.EventPage: field 6 name `committed` -> `no_commit`": (
        "seed: EventPage.no_commit = 6; upstream calls field 6 `bool committed` "
        "(same number and wire type, different name/JSON name and opposite sense)"
    ),
    "angzarr.SyncMode: added value SYNC_MODE_DECISION = 3": "seed: SyncMode DECISION = 3",
    "angzarr.SyncMode: added value SYNC_MODE_ISOLATED = 4": "seed: SyncMode ISOLATED = 4",
    "examples: added message examples.PlayerActed": "seed: PlayerActed (hand_id, player_id, action, amount)",
}


# --------------------------------------------------------------------------
# Loading descriptors
# --------------------------------------------------------------------------

_SERIALIZED = re.compile(r"AddSerializedFile\(\s*(b(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"))\s*\)", re.S)


def _descriptors_from_source(src: str) -> list[dpb.FileDescriptorProto]:
    out = []
    for m in _SERIALIZED.finditer(src):
        out.append(dpb.FileDescriptorProto.FromString(ast.literal_eval(m.group(1))))
    return out


def load_upstream(path: pathlib.Path) -> dict[str, dpb.FileDescriptorProto]:
    files: dict[str, dpb.FileDescriptorProto] = {}
    if path.is_file() and path.suffix == ".whl":
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if name.endswith("_pb2.py"):
                    for fd in _descriptors_from_source(z.read(name).decode("utf-8")):
                        files[fd.name] = fd
    elif path.is_dir():
        for p in sorted(path.rglob("*_pb2.py")):
            for fd in _descriptors_from_source(p.read_text(encoding="utf-8")):
                files[fd.name] = fd
    else:
        sys.exit(f"error: {path} is neither a directory nor a .whl file")
    if not files:
        sys.exit(f"error: no *_pb2.py descriptors found under {path}")
    return files


def compile_ours(proto_root: pathlib.Path) -> bytes:
    protos = sorted(
        str(p.relative_to(proto_root))
        for sub in ("angzarr", "examples", "google")
        for p in (proto_root / sub).rglob("*.proto")
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "ours.pb")
        try:
            import grpc_tools  # type: ignore
            from grpc_tools import protoc  # type: ignore

            wkt = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
            args = ["protoc", f"-I{proto_root}", f"-I{wkt}", f"--descriptor_set_out={out}", "--include_imports"]
            if protoc.main(args + protos) != 0:
                sys.exit("error: grpc_tools.protoc failed to compile our .proto files")
        except ImportError:
            exe = shutil.which("protoc")
            if not exe:
                sys.exit("error: need grpcio-tools (pip install grpcio-tools) or protoc on PATH, or pass --ours")
            cmd = [exe, f"-I{proto_root}", f"--descriptor_set_out={out}", "--include_imports", *protos]
            subprocess.run(cmd, check=True, cwd=proto_root)
        return pathlib.Path(out).read_bytes()


def load_ours(descriptor_set: bytes) -> dict[str, dpb.FileDescriptorProto]:
    fds = dpb.FileDescriptorSet.FromString(descriptor_set)
    return {f.name: f for f in fds.file}


# --------------------------------------------------------------------------
# Indexing
# --------------------------------------------------------------------------

def _walk_messages(prefix, messages, file_name, out_msgs, out_enums):
    for m in messages:
        full = f"{prefix}.{m.name}"
        out_msgs[full] = (m, file_name)
        for e in m.enum_type:
            out_enums[f"{full}.{e.name}"] = (e, file_name)
        _walk_messages(full, m.nested_type, file_name, out_msgs, out_enums)


def index(files: dict[str, dpb.FileDescriptorProto], packages: set[str]):
    msgs, enums, services = {}, {}, {}
    for f in files.values():
        if f.package not in packages:
            continue
        _walk_messages(f.package, f.message_type, f.name, msgs, enums)
        for e in f.enum_type:
            enums[f"{f.package}.{e.name}"] = (e, f.name)
        for s in f.service:
            services[f"{f.package}.{s.name}"] = (s, f.name)
    return msgs, enums, services


# --------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------

_TYPE_NAMES = {v.number: v.name[5:].lower() for v in dpb.FieldDescriptorProto.Type.DESCRIPTOR.values}


def _ftype(f: dpb.FieldDescriptorProto) -> str:
    t = _TYPE_NAMES[f.type]
    if f.type in (f.TYPE_MESSAGE, f.TYPE_ENUM):
        t = f.type_name.lstrip(".")
    if f.label == f.LABEL_REPEATED:
        t = "repeated " + t
    if f.proto3_optional:
        t = "optional " + t
    return t


def _oneof(m: dpb.DescriptorProto, f: dpb.FieldDescriptorProto) -> str | None:
    if f.HasField("oneof_index") and not f.proto3_optional:
        return m.oneof_decl[f.oneof_index].name
    return None


def _read_varint(b: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        byte = b[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, i
        shift += 7


def _raw_fields(b: bytes):
    i = 0
    while i < len(b):
        tag, i = _read_varint(b, i)
        num, wt = tag >> 3, tag & 7
        if wt == 0:
            v, i = _read_varint(b, i)
        elif wt == 1:
            v, i = b[i : i + 8], i + 8
        elif wt == 2:
            n, i = _read_varint(b, i)
            v, i = b[i : i + n], i + n
        elif wt == 5:
            v, i = b[i : i + 4], i + 4
        else:
            raise ValueError(f"unsupported wire type {wt}")
        yield num, wt, v


def _http_rule(method: dpb.MethodDescriptorProto) -> str:
    """The google.api.http binding as text, e.g. 'post /v1/x body=*'."""
    if not method.HasField("options"):
        return "-"
    names = {2: "get", 3: "put", 4: "post", 5: "delete", 6: "patch", 7: "body", 12: "response_body"}
    parts = []
    for num, wt, v in _raw_fields(method.options.SerializeToString()):
        if num != HTTP_OPTION:
            continue
        for fnum, fwt, fv in _raw_fields(v):
            key = names.get(fnum, f"#{fnum}")
            parts.append(f"{key}={fv.decode() if isinstance(fv, bytes) else fv}")
    return " ".join(sorted(parts)) or "-"


def compare(up_files, our_files, packages):
    problems: list[str] = []
    up_msgs, up_enums, up_svcs = index(up_files, packages)
    our_msgs, our_enums, our_svcs = index(our_files, packages)

    for name, (um, ufile) in sorted(up_msgs.items()):
        if name not in our_msgs:
            problems.append(f"{name}: message missing")
            continue
        om, ofile = our_msgs[name]
        if ufile != ofile:
            problems.append(f"{name}: declared in {ofile}, upstream in {ufile}")
        ours_by_num = {f.number: f for f in om.field}
        for uf in um.field:
            of = ours_by_num.get(uf.number)
            if of is None:
                problems.append(f"{name}: field {uf.number} `{uf.name}` missing")
                continue
            if of.name != uf.name:
                problems.append(f"{name}: field {uf.number} name `{uf.name}` -> `{of.name}`")
            if _ftype(of) != _ftype(uf):
                problems.append(f"{name}: field {uf.number} `{uf.name}` type {_ftype(uf)} -> {_ftype(of)}")
            if _oneof(om, of) != _oneof(um, uf):
                problems.append(f"{name}: field {uf.number} `{uf.name}` oneof {_oneof(um, uf)} -> {_oneof(om, of)}")
        up_nums = {f.number for f in um.field}
        for of in om.field:
            if of.number not in up_nums:
                problems.append(f"{name}: added field {of.number} `{of.name}`")
    for name in sorted(set(our_msgs) - set(up_msgs)):
        problems.append(f"{name.split('.')[0]}: added message {name}")

    for name, (ue, _ufile) in sorted(up_enums.items()):
        if name not in our_enums:
            problems.append(f"{name}: enum missing")
            continue
        oe, _ = our_enums[name]
        ours = {v.name: v.number for v in oe.value}
        ups = {v.name: v.number for v in ue.value}
        for vname, num in ups.items():
            if vname not in ours:
                problems.append(f"{name}: value {vname} = {num} missing")
            elif ours[vname] != num:
                problems.append(f"{name}: value {vname} number {num} -> {ours[vname]}")
        for vname, num in ours.items():
            if vname not in ups:
                problems.append(f"{name}: added value {vname} = {num}")
    for name in sorted(set(our_enums) - set(up_enums)):
        problems.append(f"{name.split('.')[0]}: added enum {name}")

    for name, (us, ufile) in sorted(up_svcs.items()):
        if name not in our_svcs:
            problems.append(f"{name}: service missing")
            continue
        osvc, ofile = our_svcs[name]
        if ufile != ofile:
            problems.append(f"{name}: declared in {ofile}, upstream in {ufile}")
        ours = {m.name: m for m in osvc.method}
        for um in us.method:
            om = ours.get(um.name)
            if om is None:
                problems.append(f"{name}.{um.name}: method missing")
                continue
            sig_u = (um.input_type, um.output_type, um.client_streaming, um.server_streaming)
            sig_o = (om.input_type, om.output_type, om.client_streaming, om.server_streaming)
            if sig_u != sig_o:
                problems.append(f"{name}.{um.name}: signature {sig_u} -> {sig_o}")
            if _http_rule(um) != _http_rule(om):
                problems.append(f"{name}.{um.name}: http {_http_rule(um)} -> {_http_rule(om)}")
        up_methods = {m.name for m in us.method}
        for om in osvc.method:
            if om.name not in up_methods:
                problems.append(f"{name}: added method {om.name}")
    for name in sorted(set(our_svcs) - set(up_svcs)):
        problems.append(f"{name.split('.')[0]}: added service {name}")

    return problems, (len(up_msgs), len(up_enums), len(up_svcs))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("upstream", type=pathlib.Path, help="unpacked angzarr-client wheel directory, or the .whl")
    ap.add_argument("--ours", type=pathlib.Path, help="our compiled FileDescriptorSet (default: compile proto/)")
    ap.add_argument("--packages", default="angzarr,examples,google.api", help="comma-separated packages to compare")
    args = ap.parse_args()

    packages = {p.strip() for p in args.packages.split(",") if p.strip()}
    up = load_upstream(args.upstream)
    ours = load_ours(args.ours.read_bytes() if args.ours else compile_ours(HERE))

    problems, (n_msg, n_enum, n_svc) = compare(up, ours, packages)
    deliberate = [p for p in problems if p in DELIBERATE]
    unexpected = [p for p in problems if p not in DELIBERATE]
    stale = [k for k in DELIBERATE if k not in problems and k.split(".")[0].split(":")[0] in packages]

    print(f"compared packages {sorted(packages)}: {n_msg} upstream messages, {n_enum} enums, {n_svc} services")
    for p in deliberate:
        print(f"DELIBERATE  {p}    ({DELIBERATE[p]})")
    for k in stale:
        print(f"NOTE        listed as deliberate but not found: {k}")
    for p in unexpected:
        print(f"MISMATCH    {p}")
    print(f"{len(deliberate)} deliberate divergences, {len(unexpected)} unexpected")
    if unexpected:
        print("FAIL: contract differs from upstream beyond the seed's deliberate additions")
        return 1
    print("OK: wire-compatible with upstream (apart from the deliberate divergences above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
