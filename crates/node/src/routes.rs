//! Which deployment serves a request.
//!
//! For now a request goes to the worker named by the first label of its
//! `Host` (`hello.localhost` → `hello`), else to the default worker (the one
//! `outpost dev` serves). Host/path route patterns come with the control plane.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use outpost_runtime::WorkerSpec;

/// The node's routing table. Shared by all executor threads; swapping a
/// deployment's spec is how a new version goes live.
#[derive(Default)]
pub struct Routes {
    table: RwLock<Table>,
}

#[derive(Default)]
struct Table {
    by_name: HashMap<String, Arc<WorkerSpec>>,
    default: Option<String>,
}

impl Routes {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Installs (or replaces) a deployment.
    pub fn deploy(&self, spec: Arc<WorkerSpec>) {
        let mut t = self.table.write().expect("routes lock");
        t.by_name.insert(spec.name.clone(), spec);
    }

    /// Makes `name` the worker for requests no host matches.
    pub fn set_default(&self, name: &str) {
        self.table.write().expect("routes lock").default = Some(name.to_string());
    }

    /// The current spec of a deployment.
    pub fn get(&self, name: &str) -> Option<Arc<WorkerSpec>> {
        self.table
            .read()
            .expect("routes lock")
            .by_name
            .get(name)
            .cloned()
    }

    /// Finds the deployment for a request's host.
    pub fn route(&self, host: Option<&str>) -> Option<Arc<WorkerSpec>> {
        let t = self.table.read().expect("routes lock");
        if let Some(label) = host.and_then(|h| h.split(['.', ':']).next()) {
            if let Some(spec) = t.by_name.get(label) {
                return Some(spec.clone());
            }
        }
        t.default.as_ref().and_then(|d| t.by_name.get(d)).cloned()
    }
}
