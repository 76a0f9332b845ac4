//! WebSockets through a real node: a worker that accepts an upgrade with a
//! `WebSocketPair` and echoes, driven by a real client over TCP; and a worker
//! that connects out (fetch upgrade and `new WebSocket`) to an echo server
//! the test runs on 127.0.0.1.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use outpost_node::{Node, NodeConfig, Routes};
use outpost_runtime::{Bundle, CompiledBundle, EnvValue, Limits, WorkerSpec};
use outpost_testkit::get;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

const WORKER: &str = r#"
const seen = [];
export default {
  async fetch(req, env) {
    const path = new URL(req.url).pathname;
    if (path === '/ws' || path === '/ws-anyway') {
      const [client, server] = Object.values(new WebSocketPair());
      server.accept();
      server.send('welcome');
      server.addEventListener('message', (e) => {
        seen.push(typeof e.data);
        if (typeof e.data === 'string') server.send('echo:' + e.data);
        else server.send(new Uint8Array(e.data).reverse());
      });
      server.addEventListener('close', (e) => seen.push(`close ${e.code} ${e.reason} ${e.wasClean}`));
      return new Response(null, { status: 101, webSocket: client });
    }
    if (path === '/ws-spin') {
      const [client, server] = Object.values(new WebSocketPair());
      server.accept();
      server.addEventListener('message', (e) => {
        if (e.data === 'spin') while (true) {}
        server.send('ok:' + e.data);
      });
      return new Response(null, { status: 101, webSocket: client });
    }
    if (path === '/ws-flood') {
      const [client, server] = Object.values(new WebSocketPair());
      server.accept();
      const events = [];
      server.addEventListener('error', (e) => events.push(`error ${e.message}`));
      server.addEventListener('close', (e) => {
        events.push(`close ${e.code} ${e.wasClean}`);
        seen.push(`flood ${events.join(', ')}`);
      });
      server.addEventListener('message', async () => {
        const big = new Uint8Array(1 << 20);
        for (let i = 0; i < 400 && server.readyState === WebSocket.OPEN; i++) {
          server.send(big);
          await new Promise((r) => setTimeout(r, 0));
        }
      });
      return new Response(null, { status: 101, webSocket: client });
    }
    if (path === '/seen') return new Response(seen.join(';'));
    if (path === '/fetch-out') {
      const resp = await fetch(env.ECHO_URL, { headers: { Upgrade: 'websocket' } });
      const ws = resp.webSocket;
      ws.accept();
      const got = [];
      const closed = new Promise((resolve) => {
        ws.addEventListener('message', (e) => {
          got.push(typeof e.data === 'string' ? e.data : 'bin:' + new Uint8Array(e.data).join(','));
          if (got.length === 2) ws.close(1000, 'done');
        });
        ws.addEventListener('close', (e) => resolve(`${e.code} ${e.reason} ${ws.readyState}`));
      });
      ws.send('ping');
      ws.send(new Uint8Array([1, 2, 3]));
      const how = await closed;
      return new Response(`${resp.status}|${got.join('|')}|${how}`);
    }
    if (path === '/new-websocket') {
      const ws = new WebSocket(env.ECHO_URL.replace('http:', 'ws:'));
      const states = [ws.readyState];
      const result = await new Promise((resolve) => {
        ws.onopen = () => { states.push(ws.readyState); ws.send('hi'); };
        ws.onmessage = (e) => { states.push(e.data); ws.close(4000, 'enough'); };
        ws.onclose = (e) => resolve(`${e.code} ${e.reason}`);
      });
      return new Response(`${states.join('|')}|${result}`);
    }
    if (path === '/private') {
      try {
        await fetch(env.ECHO_URL, { headers: { Upgrade: 'websocket' } });
        return new Response('connected');
      } catch (e) {
        return new Response(`${e.name}: ${e.message}`);
      }
    }
    return new Response('not found', { status: 404 });
  },
};
"#;

fn spec(name: &str, echo: SocketAddr, allow_private_fetch: bool) -> Arc<WorkerSpec> {
    let bundle = Bundle::from_sources("index.js", [("index.js".to_string(), WORKER.to_string())]);
    Arc::new(WorkerSpec {
        name: name.into(),
        version: 1,
        bundle: Arc::new(CompiledBundle::compile(&bundle).unwrap()),
        env: vec![(
            "ECHO_URL".into(),
            EnvValue::Text(format!("http://{echo}/echo")),
        )],
        limits: Limits::default(),
        dev: true,
        allow_private_fetch,
        cache: None,
    })
}

/// An echo server for the outbound tests, on its own thread.
fn echo_server() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                        return;
                    };
                    while let Some(Ok(msg)) = ws.next().await {
                        if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
    });
    addr
}

fn start(routes: Arc<Routes>) -> Node {
    Node::start(
        NodeConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            // One thread, so that every request sees the same isolate.
            threads: 1,
            warm_pool: 1,
            dev: true,
            ..NodeConfig::default()
        },
        routes,
    )
    .unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn next_message<S>(ws: &mut S) -> Message
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("message in time")
        .expect("stream open")
        .expect("frame")
}

#[test]
fn a_real_client_talks_to_an_echo_worker() {
    let routes = Arc::new(Routes::new());
    routes.deploy(spec("echo", echo_server(), true));
    let node = start(routes);
    let addr = node.addr();

    rt().block_on(async {
        let mut req = format!("ws://{addr}/ws").into_client_request().unwrap();
        req.headers_mut()
            .insert("host", "echo.localhost".parse().unwrap());
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut ws, resp) = tokio_tungstenite::client_async(req, tcp).await.unwrap();
        assert_eq!(resp.status(), 101);

        assert_eq!(next_message(&mut ws).await, Message::text("welcome"));
        ws.send(Message::text("hello")).await.unwrap();
        assert_eq!(next_message(&mut ws).await, Message::text("echo:hello"));
        ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
        assert_eq!(
            next_message(&mut ws).await,
            Message::binary(vec![3u8, 2, 1])
        );
        ws.close(Some(CloseFrame {
            code: CloseCode::from(4321),
            reason: "see you".into(),
        }))
        .await
        .unwrap();
        // The worker answers the close with the same code.
        match next_message(&mut ws).await {
            Message::Close(Some(f)) => {
                assert_eq!(u16::from(f.code), 4321);
                assert_eq!(f.reason.as_str(), "see you");
            }
            other => panic!("expected a close frame, got {other:?}"),
        }
    });

    // The worker saw both messages and the close, with its code and reason.
    let seen = outpost_testkit::wait_for("the close event", Duration::from_secs(5), || {
        let r = get(addr, "echo.localhost", "/seen").ok()?;
        r.text().contains("close").then(|| r.text())
    });
    assert_eq!(seen, "string;object;close 4321 see you true");

    // A 101 with a webSocket for a request that did not ask to upgrade.
    let r = get(addr, "echo.localhost", "/ws-anyway").unwrap();
    assert_eq!(r.status, 500, "{}", r.text());
    assert!(r.text().contains("not a WebSocket upgrade"), "{}", r.text());
    node.shutdown();
}

#[test]
fn a_worker_connects_out_to_a_websocket_server() {
    let echo = echo_server();
    let routes = Arc::new(Routes::new());
    routes.deploy(spec("out", echo, true));
    routes.deploy(spec("public", echo, false));
    let node = start(routes);
    let addr = node.addr();

    let r = get(addr, "out.localhost", "/fetch-out").unwrap();
    assert_eq!(
        (r.status, r.text()),
        (200, "101|ping|bin:1,2,3|1000 done 3".to_string())
    );

    let r = get(addr, "out.localhost", "/new-websocket").unwrap();
    assert_eq!(
        (r.status, r.text()),
        (200, "0|1|hi|4000 enough".to_string())
    );

    // Without allow_private_fetch, loopback is refused as fetch refuses it.
    let r = get(addr, "public.localhost", "/private").unwrap();
    assert!(
        r.text()
            .starts_with("TypeError: fetch failed: address 127.0.0.1 is not allowed"),
        "{}",
        r.text()
    );
    node.shutdown();
}

async fn connect(addr: SocketAddr, host: &str, path: &str) -> Client {
    let mut req = format!("ws://{addr}{path}").into_client_request().unwrap();
    req.headers_mut().insert("host", host.parse().unwrap());
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio_tungstenite::client_async(req, tcp).await.unwrap().0
}

type Client = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

#[test]
fn a_runaway_message_handler_hits_the_cpu_limit_and_sockets_survive_shutdown() {
    let routes = Arc::new(Routes::new());
    routes.deploy(spec("spin", echo_server(), true));
    let node = start(routes);
    let addr = node.addr();
    rt().block_on(async {
        // Each event has its own budget: many cheap messages are fine.
        let mut ws = connect(addr, "spin.localhost", "/ws-spin").await;
        let started = std::time::Instant::now();
        for i in 0..200 {
            ws.send(Message::text(format!("m{i}"))).await.unwrap();
            assert_eq!(
                next_message(&mut ws).await,
                Message::text(format!("ok:m{i}"))
            );
        }
        eprintln!(
            "echo round trip through the worker: {:.0} µs per message",
            started.elapsed().as_micros() as f64 / 200.0
        );
        // One that loops is stopped; the connection closes with 1011.
        ws.send(Message::text("spin")).await.unwrap();
        match next_message(&mut ws).await {
            Message::Close(Some(f)) => assert_eq!(u16::from(f.code), 1011),
            other => panic!("expected a close frame, got {other:?}"),
        }
        // A fresh isolate serves the next connection, which stays open
        // while the node shuts down.
        let mut open = connect(addr, "spin.localhost", "/ws-spin").await;
        open.send(Message::text("again")).await.unwrap();
        assert_eq!(next_message(&mut open).await, Message::text("ok:again"));
        node.shutdown();
        drop(open);
    });
}

/// A client that never reads while the worker sends: past the worker end's
/// bound on waiting messages the worker sees `error` and an unclean
/// `close`, and the node drops the connection, so the client reads what the
/// kernel buffered and then the end of the stream.
#[test]
fn a_client_that_never_reads_is_disconnected() {
    let routes = Arc::new(Routes::new());
    routes.deploy(spec("flood", echo_server(), true));
    let node = start(routes);
    let addr = node.addr();
    rt().block_on(async {
        let mut ws = connect(addr, "flood.localhost", "/ws-flood").await;
        ws.send(Message::text("go")).await.unwrap();
        let seen = tokio::task::spawn_blocking(move || {
            outpost_testkit::wait_for("the worker's close", Duration::from_secs(20), || {
                let r = get(addr, "flood.localhost", "/seen").ok()?;
                r.text().contains("flood").then(|| r.text())
            })
        })
        .await
        .unwrap();
        assert_eq!(
            seen,
            "flood error WebSocket closed: more than 16 MiB of sent messages were waiting for \
             the peer to read them., close 1006 false"
        );
        let mut read = 0usize;
        let ended = loop {
            match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
                Ok(Some(Ok(Message::Binary(b)))) => read += b.len(),
                Ok(Some(Ok(other))) => panic!("unexpected {other:?}"),
                Ok(Some(Err(_)) | None) => break true,
                Err(_) => break false,
            }
        };
        assert!(ended, "the connection stayed open after {read} bytes");
        eprintln!("the client read {read} bytes before the connection ended");
    });
    node.shutdown();
}
