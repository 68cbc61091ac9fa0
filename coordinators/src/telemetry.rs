//! Span and metric names, in one place so dashboards and tests agree.

/// Span around a command's whole life at the gateway.
pub const SPAN_AGGREGATE_HANDLE: &str = "aggregate.handle";
/// Span around the business-logic call in the partition owner.
pub const SPAN_AGGREGATE_EXECUTE: &str = "aggregate.execute";
/// Histogram of command latency at the gateway, seconds.
pub const COMMAND_DURATION: &str = "angzarr.command.duration";
/// Counter of commands by outcome.
pub const COMMANDS_TOTAL: &str = "angzarr.commands";
/// Counter of records that did not decode and were skipped.
pub const UNDECODABLE_RECORDS: &str = "angzarr.records.undecodable";
