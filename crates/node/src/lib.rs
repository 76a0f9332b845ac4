//! The edge node: accepts HTTP, routes each request to a deployment, and runs
//! it in an isolate on the executor thread that accepted it.
//!
//! - [`routes`]: which deployment serves a request (host/path patterns,
//!   default hosts `<name>.<domain>`);
//! - [`executor`]: one thread per core, each with its own listener
//!   (`SO_REUSEPORT`), async runtime, warm pool and isolate cache;
//! - [`serve`]: the phases of one HTTP request on an executor thread;
//! - [`websocket`]: WebSocket upgrades and the connections they open;
//! - [`Node`]: starting and stopping the executor threads.

pub mod executor;
pub mod routes;
pub mod serve;
pub mod websocket;

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

pub use routes::{RoutePattern, RouteTable, Routes};

/// How a node is started.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Address to listen on; port 0 picks a free port.
    pub addr: SocketAddr,
    /// Executor threads (one per core by default).
    pub threads: usize,
    /// Fresh runtimes each thread keeps ready for cold starts.
    pub warm_pool: usize,
    /// Whether error responses carry messages and stacks.
    pub dev: bool,
    /// Heap all isolates of the node may hold; past it, idle isolates are
    /// evicted least recently used first.
    pub memory_budget: usize,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8787)),
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            warm_pool: 2,
            dev: false,
            memory_budget: 1 << 30,
        }
    }
}

/// A running node. Dropping it stops the executor threads.
pub struct Node {
    addr: SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
    open: tokio::sync::watch::Sender<bool>,
    threads: Vec<JoinHandle<()>>,
    routes: Arc<Routes>,
}

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The listening socket could not be set up.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// An executor thread could not be spawned.
    #[error("cannot start executor thread: {0}")]
    Thread(std::io::Error),
}

impl Node {
    /// Binds the listeners and starts the executor threads, serving at once.
    pub fn start(config: NodeConfig, routes: Arc<Routes>) -> Result<Node, NodeError> {
        let node = Node::prepare(config, routes)?;
        node.open();
        Ok(node)
    }

    /// Binds the listeners and starts the executor threads, which prepare
    /// their warm pools but accept no connection until [`open`](Self::open).
    /// A caller that still has its first deployment to build (`outpost dev`)
    /// starts the node first, so the two overlap; connections that arrive
    /// meanwhile wait in the listen backlog rather than finding no worker.
    pub fn prepare(config: NodeConfig, routes: Arc<Routes>) -> Result<Node, NodeError> {
        let threads = config.threads.max(1);
        let first = executor::bind_reuseport(config.addr)?;
        let addr = first.local_addr().map_err(|source| NodeError::Listen {
            addr: config.addr,
            source,
        })?;
        let mut listeners = vec![first];
        for _ in 1..threads {
            listeners.push(executor::bind_reuseport(addr)?);
        }
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let (open, open_rx) = tokio::sync::watch::channel(false);
        let hints = Arc::new(executor::WarmHints::default());
        let mut handles = Vec::with_capacity(threads);
        for (i, listener) in listeners.into_iter().enumerate() {
            let routes = routes.clone();
            let stop_rx = stop_rx.clone();
            let open_rx = open_rx.clone();
            let hints = hints.clone();
            let config = config.clone();
            let handle = std::thread::Builder::new()
                .name(format!("executor-{i}"))
                .spawn(move || executor::run(listener, routes, config, stop_rx, open_rx, hints))
                .map_err(NodeError::Thread)?;
            handles.push(handle);
        }
        Ok(Node {
            addr,
            stop,
            open,
            threads: handles,
            routes,
        })
    }

    /// Lets the executor threads accept connections.
    pub fn open(&self) {
        self.open.send_replace(true);
    }

    /// The address the node listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The routing table (to deploy new versions).
    pub fn routes(&self) -> &Arc<Routes> {
        &self.routes
    }

    /// Stops accepting, ends the executor threads and waits for them.
    pub fn shutdown(mut self) {
        self.stop_threads();
    }

    fn stop_threads(&mut self) {
        let _ = self.stop.send(true);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop_threads();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use outpost_runtime::WorkerSpec;
    use std::time::Duration;

    /// `outpost dev` binds before it builds the worker; a request that
    /// arrives meanwhile must wait for the worker, not find none.
    #[test]
    fn connections_wait_until_the_node_opens() {
        let routes = Arc::new(Routes::new());
        let config = NodeConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            threads: 2,
            warm_pool: 1,
            ..NodeConfig::default()
        };
        let node = Node::prepare(config, routes.clone()).unwrap();
        let addr = node.addr();
        let early = std::thread::spawn(move || outpost_testkit::get(addr, "localhost", "/"));
        // Long enough for a closed gate to be noticed: an open one answers
        // in milliseconds (with a 404, as no worker is deployed yet).
        std::thread::sleep(Duration::from_millis(300));
        assert!(!early.is_finished(), "answered before the node opened");

        let source = "export default { fetch() { return new Response('built'); } };";
        routes.deploy(Arc::new(WorkerSpec::from_source("w", source).unwrap()));
        routes.set_default("w");
        node.open();
        let r = early.join().unwrap().unwrap();
        assert_eq!((r.status, r.text()), (200, "built".to_string()));
        node.shutdown();
    }
}
