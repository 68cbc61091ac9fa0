//! The Kafka connector (see issue 4).
