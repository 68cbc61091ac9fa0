#!/usr/bin/env bash
# Generates gen/angzarr, gen/examples and gen/angzarr_kafka from the
# repository's /proto.
# Invoked by `go generate ./gen` (from clients/go/gen). Needs protoc (with the
# google/protobuf well-known .proto files) on PATH; installs the pinned Go
# plugins into clients/go/.bin. Skips all work when nothing changed.
set -euo pipefail

PROTOC_GEN_GO_VERSION=v1.36.12      # google.golang.org/protobuf/cmd/protoc-gen-go
PROTOC_GEN_GO_GRPC_VERSION=v1.6.2   # google.golang.org/grpc/cmd/protoc-gen-go-grpc
MODULE=github.com/angzarr-kafka/angzarr/clients/go

gen_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mod_dir=$(dirname "$gen_dir")
proto_dir=$(cd "$mod_dir/../../proto" && pwd)
bin_dir="$mod_dir/.bin"

# --- plugins, pinned ---------------------------------------------------------
mkdir -p "$bin_dir"
if [[ "$("$bin_dir/protoc-gen-go" --version 2>/dev/null || true)" != "protoc-gen-go $PROTOC_GEN_GO_VERSION" ]]; then
  echo "protogen: installing protoc-gen-go $PROTOC_GEN_GO_VERSION" >&2
  GOBIN="$bin_dir" GOFLAGS=-mod=mod go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO_VERSION"
fi
if [[ "$("$bin_dir/protoc-gen-go-grpc" --version 2>/dev/null || true)" != "protoc-gen-go-grpc ${PROTOC_GEN_GO_GRPC_VERSION#v}" ]]; then
  echo "protogen: installing protoc-gen-go-grpc $PROTOC_GEN_GO_GRPC_VERSION" >&2
  GOBIN="$bin_dir" GOFLAGS=-mod=mod go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC_VERSION"
fi
export PATH="$bin_dir:$PATH"

command -v protoc >/dev/null || { echo "protogen: protoc not found (apt-get install protobuf-compiler libprotobuf-dev)" >&2; exit 1; }

# Where google/protobuf/*.proto live (Debian: libprotobuf-dev).
wkt_include=""
for d in /usr/include /usr/local/include; do
  if [[ -f "$d/google/protobuf/any.proto" ]]; then wkt_include="$d"; break; fi
done
[[ -n "$wkt_include" ]] || { echo "protogen: google/protobuf/any.proto not found (apt-get install libprotobuf-dev)" >&2; exit 1; }

# --- inputs ------------------------------------------------------------------
cd "$proto_dir"
# angzarr_kafka/: only batch.proto, the optional batch services a handler
# serves. owner.proto shares its package but is internal to coordinators.
files=(angzarr/*.proto examples/*.proto angzarr_kafka/batch.proto)

# Skip when protos, plugins, protoc and this script are unchanged.
stamp="$gen_dir/.stamp"
want=$( {
  sha256sum "${files[@]}" "$gen_dir/protogen.sh"
  protoc --version
  echo "$PROTOC_GEN_GO_VERSION $PROTOC_GEN_GO_GRPC_VERSION"
} | sha256sum | cut -d' ' -f1)
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -d "$gen_dir/angzarr" && -d "$gen_dir/examples" && -d "$gen_dir/angzarr_kafka" ]]; then
  exit 0
fi

# The .proto files' go_package names github.com/angzarr-kafka/angzarr/gen/...;
# map each file into this module instead (M options), keeping package names.
opts=()
for f in "${files[@]}"; do
  case "$f" in
    angzarr/*)       m="M$f=$MODULE/gen/angzarr;angzarrpb" ;;
    examples/*)      m="M$f=$MODULE/gen/examples;examplespb" ;;
    angzarr_kafka/*) m="M$f=$MODULE/gen/angzarr_kafka;angzarrkafkapb" ;;
  esac
  opts+=("--go_opt=$m" "--go-grpc_opt=$m")
done

rm -rf "$gen_dir/angzarr" "$gen_dir/examples" "$gen_dir/angzarr_kafka" "$stamp"
protoc -I "$proto_dir" -I "$wkt_include" \
  --go_out="$mod_dir" --go_opt=module="$MODULE" \
  --go-grpc_out="$mod_dir" --go-grpc_opt=module="$MODULE" \
  "${opts[@]}" "${files[@]}"
echo "$want" >"$stamp"
echo "protogen: generated $(ls "$gen_dir/angzarr" "$gen_dir/examples" "$gen_dir/angzarr_kafka" | grep -c '\.go$') files" >&2
