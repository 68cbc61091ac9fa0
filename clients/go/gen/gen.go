// Package gen holds the Go code generated from /proto at build time:
//
//   - gen/angzarr  (package angzarrpb): the angzarr contract
//   - gen/examples (package examplespb): the poker example's messages
//   - gen/angzarr_kafka (package angzarrkafkapb): this repository's optional
//     batch services (proto/angzarr_kafka/batch.proto only)
//
// None is committed. Generate them with `go generate ./gen` (run-tests
// does): protoc with the pinned protoc-gen-go and protoc-gen-go-grpc.
package gen

//go:generate bash ./protogen.sh
