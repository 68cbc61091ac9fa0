//! Traces: the process's `tracing` subscriber, and — with the `otel`
//! feature — OTLP export and W3C trace context carried in the records.
//!
//! A command crosses processes through the log (gateway → commands topic →
//! partition owner → events topic → saga → commands topic → …), so the
//! in-process span stack cannot link its steps. Each record carries the
//! `traceparent` of the span that wrote it; the coordinator that reads it
//! makes its span a child of that one ([`follow`]). Without the feature (or
//! without an endpoint) nothing is carried and nothing is exported.

/// Keeps the exporter of a process alive; dropping it flushes the spans
/// still buffered (the process is ending).
#[must_use = "dropping the guard stops trace export"]
pub struct TraceGuard {
    #[cfg(feature = "otel")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Drop for TraceGuard {
    fn drop(&mut self) {
        #[cfg(feature = "otel")]
        if let Some(p) = self.provider.take()
            && let Err(e) = p.shutdown()
        {
            eprintln!("angzarr: flushing traces: {e}");
        }
    }
}

/// Installs the process's subscriber: human logs on stderr filtered by
/// `RUST_LOG` (else `default`), and with the `otel` feature, when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set, every span exported over OTLP/gRPC
/// (service name `OTEL_SERVICE_NAME`, else `angzarr`).
pub fn init(default: &str) -> TraceGuard {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // The log lines see what `RUST_LOG` lets through; the OTLP layer every
    // span at INFO and above (sampling is the SDK's).
    #[cfg_attr(not(feature = "otel"), allow(unused_mut))]
    let mut layers: Vec<Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync>> =
        vec![tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(filter).boxed()];
    #[cfg(feature = "otel")]
    let provider = match otlp() {
        Ok(Some(provider)) => {
            use opentelemetry::trace::TracerProvider as _;
            // INFO and above: the coordinator's spans, not its libraries' (h2, tower) trace-level ones.
            let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("angzarr"));
            layers.push(layer.with_filter(tracing_subscriber::filter::LevelFilter::INFO).boxed());
            Some(provider)
        }
        Ok(None) => None,
        Err(e) => {
            eprintln!("angzarr: OTLP export not started: {e}");
            None
        }
    };
    let _ = tracing_subscriber::registry().with(layers).try_init();
    TraceGuard {
        #[cfg(feature = "otel")]
        provider,
    }
}

/// The OTLP exporter's provider, when an endpoint is configured.
#[cfg(feature = "otel")]
fn otlp() -> Result<Option<opentelemetry_sdk::trace::SdkTracerProvider>, String> {
    if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_none()
        && std::env::var_os("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_none()
    {
        return Ok(None);
    }
    // The endpoint, headers and timeout come from the standard OTEL_* variables.
    let exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic().build().map_err(|e| e.to_string())?;
    let service = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "angzarr".into());
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(opentelemetry_sdk::Resource::builder().with_service_name(service).build())
        .build();
    opentelemetry::global::set_text_map_propagator(opentelemetry_sdk::propagation::TraceContextPropagator::new());
    Ok(Some(provider))
}

/// The `traceparent` of the current span, to carry in a record; `None`
/// when nothing is traced.
pub fn current() -> Option<String> {
    #[cfg(feature = "otel")]
    {
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let cx = tracing::Span::current().context();
        let mut carrier = std::collections::HashMap::new();
        opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&cx, &mut carrier));
        carrier.remove("traceparent")
    }
    #[cfg(not(feature = "otel"))]
    None
}

/// Makes `span` (not yet entered) a child of the span a record's
/// `traceparent` names: the step that wrote the record, in whatever
/// process it ran.
pub fn follow(span: &tracing::Span, traceparent: Option<&str>) {
    #[cfg(feature = "otel")]
    if let Some(tp) = traceparent {
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let carrier = std::collections::HashMap::from([("traceparent".to_string(), tp.to_string())]);
        let cx = opentelemetry::global::get_text_map_propagator(|p| p.extract(&carrier));
        let _ = span.set_parent(cx);
    }
    #[cfg(not(feature = "otel"))]
    let _ = (span, traceparent);
}
