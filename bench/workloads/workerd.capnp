# workerd config for the benchmark: one Workerd.Config constant per workload.
#   workerd serve workerd.capnp hello --socket-addr http=127.0.0.1:PORT
# The harness (bench/lib/bench.py) always overrides the socket address; the
# address below is only a loopback default for running it by hand.
# Module names mirror the paths under bench/workloads/ so that the entries'
# relative import "../render.js" resolves to the "render.js" module.
using Workerd = import "/workerd/workerd.capnp";

const hello :Workerd.Config = (
  services = [ (name = "main", worker = .helloWorker) ],
  sockets = [ (name = "http", address = "127.0.0.1:8787", http = (), service = "main") ],
);

const json :Workerd.Config = (
  services = [ (name = "main", worker = .jsonWorker) ],
  sockets = [ (name = "http", address = "127.0.0.1:8787", http = (), service = "main") ],
);

const html :Workerd.Config = (
  services = [ (name = "main", worker = .htmlWorker) ],
  sockets = [ (name = "http", address = "127.0.0.1:8787", http = (), service = "main") ],
);

const helloWorker :Workerd.Worker = (
  modules = [
    (name = "worker/hello.js", esModule = embed "worker/hello.js"),
    (name = "render.js", esModule = embed "render.js"),
  ],
  compatibilityDate = "2025-01-01",
);

const jsonWorker :Workerd.Worker = (
  modules = [
    (name = "worker/json.js", esModule = embed "worker/json.js"),
    (name = "render.js", esModule = embed "render.js"),
  ],
  compatibilityDate = "2025-01-01",
);

const htmlWorker :Workerd.Worker = (
  modules = [
    (name = "worker/html.js", esModule = embed "worker/html.js"),
    (name = "render.js", esModule = embed "render.js"),
  ],
  compatibilityDate = "2025-01-01",
);
