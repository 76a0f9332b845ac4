//! Executor threads: each owns a listener, a single-threaded async runtime,
//! a warm pool and an isolate cache, and shares nothing with the others but
//! the routing table. Isolates never cross threads.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use outpost_runtime::{Isolate, StartError, WarmPool, WorkerSpec};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::OnceCell;

use crate::routes::Routes;
use crate::{NodeConfig, NodeError};

/// How long an isolate may sit unused before it is dropped.
const IDLE_EVICTION: Duration = Duration::from_secs(60);

/// Binds a listener that other threads can bind to the same port.
pub fn bind_reuseport(addr: SocketAddr) -> Result<std::net::TcpListener, NodeError> {
    let err = |source| NodeError::Listen { addr, source };
    let socket =
        Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP)).map_err(err)?;
    socket.set_reuse_address(true).map_err(err)?;
    socket.set_reuse_port(true).map_err(err)?;
    socket.set_nonblocking(true).map_err(err)?;
    socket.bind(&addr.into()).map_err(err)?;
    socket.listen(1024).map_err(err)?;
    Ok(socket.into())
}

/// A deployment version's identity: the address of its shared spec, which the
/// cache keeps alive (through the isolate or the pending start) while keyed.
type CacheKey = usize;

fn key_of(spec: &Arc<WorkerSpec>) -> CacheKey {
    Arc::as_ptr(spec) as usize
}

/// What one executor thread owns.
pub struct ThreadState {
    /// The shared routing table.
    pub routes: Arc<Routes>,
    /// Node settings.
    pub config: NodeConfig,
    pool: WarmPool,
    cache: RefCell<HashMap<CacheKey, Rc<OnceCell<Rc<Isolate>>>>>,
    /// What the node's threads have learnt about their workers.
    hints: Arc<WarmHints>,
    /// The deployments this thread has reported to `hints`, so that a
    /// request of a streams worker checks a local set, not a lock.
    reported: RefCell<HashSet<String>>,
}

/// What the executor threads of one node learn about its workers, shared by
/// all of them: the deployments (by name, so a new version inherits it)
/// whose isolates have used streams. Their cold starts take a runtime with
/// streams already loaded, and every thread's pool keeps such runtimes
/// once there is one.
#[derive(Debug, Default)]
pub struct WarmHints {
    stream_users: Mutex<HashSet<String>>,
}

impl WarmHints {
    fn stream_users(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.stream_users.lock().expect("warm hints lock")
    }
}

impl ThreadState {
    /// State for a thread serving `routes`, sharing `hints` with the
    /// node's other threads.
    pub fn new(routes: Arc<Routes>, config: NodeConfig, hints: Arc<WarmHints>) -> Self {
        Self {
            pool: WarmPool::new(config.warm_pool),
            routes,
            config,
            cache: RefCell::new(HashMap::new()),
            hints,
            reported: RefCell::new(HashSet::new()),
        }
    }

    /// Returns the live isolate for `spec`, cold-starting one if needed.
    /// Concurrent requests for a cold deployment share one start.
    pub async fn isolate(
        self: &Rc<Self>,
        spec: &Arc<WorkerSpec>,
    ) -> Result<Rc<Isolate>, StartError> {
        let key = key_of(spec);
        let slot = self.cache.borrow_mut().entry(key).or_default().clone();
        let result = slot
            .get_or_try_init(|| async {
                let streams = self.hints.stream_users().contains(&spec.name);
                let fresh = self.pool.take(streams).await?;
                let iso = Isolate::start(fresh, spec.clone()).await?;
                let me = self.clone();
                tokio::task::spawn_local(async move { me.pool.refill().await });
                Ok(Rc::new(iso))
            })
            .await
            .cloned();
        if result.is_err() {
            self.forget(&key, &slot);
        }
        result
    }

    /// Drops a poisoned isolate from the cache so the next request starts afresh.
    pub fn discard(&self, iso: &Rc<Isolate>) {
        let key = key_of(iso.spec());
        let mut cache = self.cache.borrow_mut();
        if let Some(slot) = cache.get(&key) {
            if slot.get().is_some_and(|cached| Rc::ptr_eq(cached, iso)) {
                cache.remove(&key);
            }
        }
    }

    /// Notes, after a request, whether `iso`'s deployment uses streams:
    /// its next cold start, on any thread, takes a runtime with them
    /// loaded (see [`WarmHints`]).
    pub fn learn_from(&self, iso: &Isolate) {
        if iso.uses_streams() && !self.reported.borrow().contains(&iso.spec().name) {
            let name = iso.spec().name.clone();
            self.hints.stream_users().insert(name.clone());
            self.reported.borrow_mut().insert(name);
            self.pool.want_streams();
        }
    }

    fn forget(&self, key: &CacheKey, slot: &Rc<OnceCell<Rc<Isolate>>>) {
        let mut cache = self.cache.borrow_mut();
        if cache.get(key).is_some_and(|s| Rc::ptr_eq(s, slot)) {
            cache.remove(key);
        }
    }

    /// Drops isolates that are idle too long or run a replaced version.
    fn sweep(&self) {
        let mut cache = self.cache.borrow_mut();
        cache.retain(|_, slot| {
            let Some(iso) = slot.get() else { return true };
            if iso.in_flight() > 0 || iso.open_sockets() > 0 {
                return true;
            }
            let spec = iso.spec();
            let current = self
                .routes
                .get(&spec.name)
                .is_some_and(|s| s.version == spec.version);
            current && iso.last_used().elapsed() < IDLE_EVICTION && iso.poisoned().is_none()
        });
    }

    /// Evicts idle isolates, least recently used first, while the thread's
    /// share of the node's memory budget is exceeded.
    async fn enforce_memory_budget(&self) {
        let budget = self.config.memory_budget / self.config.threads.max(1);
        let live: Vec<Rc<Isolate>> = self
            .cache
            .borrow()
            .values()
            .filter_map(|s| s.get().cloned())
            .collect();
        let mut sized = Vec::with_capacity(live.len());
        let mut total = 0;
        for iso in live {
            let bytes = iso.heap_bytes().await;
            total += bytes;
            sized.push((iso, bytes));
        }
        if total <= budget {
            return;
        }
        sized.sort_by_key(|(iso, _)| iso.last_used());
        for (iso, bytes) in sized {
            if total <= budget {
                break;
            }
            if iso.in_flight() == 0 && iso.open_sockets() == 0 {
                tracing::info!(
                    "[{}] evicting idle isolate ({} KiB) to stay within the memory budget",
                    iso.spec().name,
                    bytes / 1024
                );
                self.discard(&iso);
                total -= bytes;
            }
        }
    }

    /// The thread's work between requests, every second: drops idle and
    /// replaced isolates, keeps within the memory budget, and tops up the
    /// warm pool (between cold starts, each of which refills it too), with
    /// runtimes of the kinds any thread of the node has found a use for.
    async fn housekeeping(&self) {
        self.sweep();
        self.enforce_memory_budget().await;
        if !self.hints.stream_users().is_empty() {
            self.pool.want_streams();
        }
        self.pool.refill().await;
    }

    /// Number of cached isolates (for status output and tests).
    pub fn live_isolates(&self) -> usize {
        self.cache.borrow().len()
    }
}

/// The body of an executor thread: accept connections until told to stop.
pub fn run(
    listener: std::net::TcpListener,
    routes: Arc<Routes>,
    config: NodeConfig,
    mut stop: tokio::sync::watch::Receiver<bool>,
    mut open: tokio::sync::watch::Receiver<bool>,
    hints: Arc<WarmHints>,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("executor runtime failed to start: {e}");
            return;
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("executor listener failed: {e}");
                return;
            }
        };
        let state = Rc::new(ThreadState::new(routes, config, hints));
        let warm = state.clone();
        tokio::task::spawn_local(async move { warm.pool.prime().await });
        let sweeper = state.clone();
        tokio::task::spawn_local(async move {
            // The first tick a second from now: at start the thread has
            // only primed its pool, so that the first request does not wait
            // behind the rest of it.
            let every = Duration::from_secs(1);
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                tick.tick().await;
                sweeper.housekeeping().await;
            }
        });
        // Until the node opens, connections wait in the listen backlog.
        tokio::select! {
            opened = open.wait_for(|open| *open) => {
                if opened.is_err() {
                    return;
                }
            }
            _ = stop.changed() => return,
        }
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _peer)) => {
                        let _ = stream.set_nodelay(true);
                        let state = state.clone();
                        tokio::task::spawn_local(async move {
                            crate::serve::connection(TokioIo::new(stream), state).await;
                        });
                    }
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                },
                _ = stop.changed() => break,
            }
        }
    });
    // Dropping the LocalSet drops every connection task, then the isolates
    // they held, before the runtime goes away.
    drop(local);
}

#[cfg(test)]
mod tests {
    use super::*;
    use outpost_runtime::HostRequest;

    fn spec(name: &str, src: &str) -> Arc<WorkerSpec> {
        Arc::new(WorkerSpec {
            dev: true,
            ..WorkerSpec::from_source(name, src).unwrap()
        })
    }

    fn get() -> HostRequest {
        HostRequest::get("http://localhost/")
    }

    /// One thread learns from a request that a worker uses streams; every
    /// thread's next cold start of it takes a runtime with streams loaded.
    #[test]
    fn a_worker_seen_using_streams_cold_starts_on_a_runtime_that_loaded_them() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        tokio::task::LocalSet::new().block_on(&rt, async {
            let streamy = spec(
                "streamy",
                "export default { fetch() { return new Response(new Response('x').body); } };",
            );
            let plain = spec(
                "plain",
                "export default { fetch() { return new Response('x'); } };",
            );
            let routes = Arc::new(Routes::new());
            routes.deploy(streamy.clone());
            routes.deploy(plain.clone());
            let config = NodeConfig {
                warm_pool: 1,
                ..NodeConfig::default()
            };
            let hints = Arc::new(WarmHints::default());
            let first = Rc::new(ThreadState::new(
                routes.clone(),
                config.clone(),
                hints.clone(),
            ));
            let other = Rc::new(ThreadState::new(routes, config, hints.clone()));

            for spec in [&streamy, &plain] {
                let iso = first.isolate(spec).await.unwrap();
                assert!(!iso.uses_streams(), "a plain runtime has streams unloaded");
                iso.dispatch(get()).await.unwrap();
                first.learn_from(&iso);
            }
            assert!(hints.stream_users().contains("streamy"));
            assert!(!hints.stream_users().contains("plain"));

            other.housekeeping().await;
            let iso = other.isolate(&streamy).await.unwrap();
            assert!(
                iso.uses_streams(),
                "taken from the pool with streams loaded"
            );
            let iso = other.isolate(&plain).await.unwrap();
            assert!(
                !iso.uses_streams(),
                "a worker not seen using streams gets a plain runtime"
            );
        });
    }
}
