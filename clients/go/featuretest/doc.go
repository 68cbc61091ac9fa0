// Package featuretest runs the repository's shared feature files that
// concern the library itself (not an example's business rules) against
// components built with it, served over real gRPC: today
// /features/projector_batch.feature. It is a module of its own so that the
// library's go.mod does not carry godog.
package featuretest
