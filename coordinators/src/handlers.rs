//! The user's business logic, reached over gRPC.
//!
//! One lazily-connected channel per domain: a handler that starts after the
//! coordinator (or restarts) is picked up on the next call, no restart needed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use angzarr_proto::angzarr::command_handler_service_client::CommandHandlerServiceClient;
use tonic::transport::{Channel, Endpoint};

use crate::CoordinatorError;
use crate::process_manager::ProcessManager;
use crate::upcast::Upcasters;

/// The business logic a command-handler worker calls: aggregates by
/// domain, process managers (by their own domain), and the upcasters that
/// bring restored events to their current shape.
#[derive(Clone, Default)]
pub struct Handlers {
    by_domain: Arc<HashMap<String, CommandHandlerServiceClient<Channel>>>,
    process_managers: Arc<HashMap<String, Arc<ProcessManager>>>,
    /// Upcasters applied to restored histories.
    pub upcasters: Upcasters,
}

impl Handlers {
    /// Clients for `(domain, url)` pairs; connections open on first use.
    pub fn new(urls: impl IntoIterator<Item = (String, String)>) -> Result<Self, CoordinatorError> {
        let mut by_domain = HashMap::new();
        for (domain, url) in urls {
            let endpoint = Endpoint::from_shared(url.clone())
                .map_err(|e| CoordinatorError::InvalidArgument(format!("handler URL `{url}` for `{domain}`: {e}")))?
                .connect_timeout(Duration::from_secs(2))
                .tcp_nodelay(true);
            let client = CommandHandlerServiceClient::new(endpoint.connect_lazy()).max_decoding_message_size(64 << 20);
            by_domain.insert(domain, client);
        }
        Ok(Handlers { by_domain: Arc::new(by_domain), ..Default::default() })
    }

    /// Adds process managers: their domains are served by this worker too.
    pub fn with_process_managers(mut self, pms: impl IntoIterator<Item = ProcessManager>) -> Self {
        self.process_managers = Arc::new(pms.into_iter().map(|pm| (pm.name.clone(), Arc::new(pm))).collect());
        self
    }

    /// Sets the upcasters applied on restore.
    pub fn with_upcasters(mut self, upcasters: Upcasters) -> Self {
        self.upcasters = upcasters;
        self
    }

    /// The process manager whose domain is `domain`, if it is one.
    pub fn process_manager(&self, domain: &str) -> Option<&Arc<ProcessManager>> {
        self.process_managers.get(domain)
    }

    /// The client of `domain`'s business logic.
    pub fn get(&self, domain: &str) -> Option<CommandHandlerServiceClient<Channel>> {
        self.by_domain.get(domain).cloned()
    }

    /// Domains with business logic here (aggregates and process managers).
    pub fn domains(&self) -> Vec<String> {
        let mut d: Vec<_> = self.by_domain.keys().chain(self.process_managers.keys()).cloned().collect();
        d.sort();
        d
    }
}
