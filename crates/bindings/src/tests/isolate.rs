//! The bindings through the runtime's `env` (`EnvValue::Binding`), in a
//! real isolate: the way `outpost dev` serves them.

use std::sync::Arc;

use outpost_data::Durability;
use outpost_runtime::{
    isolate::collect_body, Bundle, CompiledBundle, EnvValue, Fresh, HostRequest, Isolate, Limits,
    WorkerSpec,
};

use crate::testing::TempDir;
use crate::{D1Binding, KvBinding};

const WORKER: &str = "export default {
  async fetch(request, env) {
    await env.DB.exec('CREATE TABLE IF NOT EXISTS hits(id INTEGER PRIMARY KEY, path TEXT)');
    const path = new URL(request.url).pathname;
    const { meta } = await env.DB.prepare('INSERT INTO hits(path) VALUES (?)').bind(path).run();
    const count = Number(await env.KV.get('count')) + 1;
    await env.KV.put('count', String(count), { metadata: { last: path } });
    const session = env.DB.withSession('first-primary');
    const n = await session.prepare('SELECT count(*) AS n FROM hits').first('n');
    return Response.json({ id: meta.last_row_id, count, n, bookmark: session.getBookmark(),
      types: [typeof env.DB.prepare, typeof env.KV.list] });
  },
};";

#[test]
fn env_bindings_in_an_isolate() {
    let dir = TempDir::new("isolate");
    let d1 = D1Binding::open(dir.path("d1.sqlite"), Durability::Normal).unwrap();
    let kv = KvBinding::open(dir.path("kv.sqlite"), Durability::Normal).unwrap();
    let bundle = Bundle::from_sources("index.js", [("index.js".to_string(), WORKER.to_string())]);
    let spec = Arc::new(WorkerSpec {
        name: "bindings".into(),
        version: 1,
        bundle: Arc::new(CompiledBundle::compile(&bundle).unwrap()),
        env: vec![
            ("DB".into(), EnvValue::Binding(Arc::new(d1.clone()))),
            ("KV".into(), EnvValue::Binding(Arc::new(kv))),
        ],
        limits: Limits::default(),
        dev: true,
        allow_private_fetch: false,
        cache: None,
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let bodies = tokio::task::LocalSet::new().block_on(&rt, async {
        let mut bodies = Vec::new();
        // Two isolates in turn share the same databases.
        for round in 0..2 {
            let iso = Isolate::start(Fresh::new().await.unwrap(), spec.clone())
                .await
                .unwrap();
            for path in ["/a", "/b"] {
                let resp = iso
                    .dispatch(HostRequest {
                        method: http::Method::GET,
                        url: format!("http://localhost{path}{round}"),
                        headers: http::HeaderMap::new(),
                        body: None,
                    })
                    .await
                    .map_err(|e| e.to_string())
                    .unwrap();
                assert_eq!(resp.status(), 200);
                let body = collect_body(resp.into_body()).await.unwrap();
                bodies.push(String::from_utf8(body.to_vec()).unwrap());
            }
        }
        bodies
    });
    let p = d1.primary().unwrap().position();
    let bm = |n: u64| crate::d1::encode_bookmark(p - 4 + n);
    assert_eq!(
        bodies,
        (1..=4)
            .map(|i| format!(
                r#"{{"id":{i},"count":{i},"n":{i},"bookmark":"{}","types":["function","function"]}}"#,
                bm(i)
            ))
            .collect::<Vec<_>>()
    );
}

/// A `put()` of a stream that never ends holds JS values in a pending
/// task; dropping the isolate must free them (QuickJS aborts on a leak).
#[test]
fn an_isolate_dropped_mid_put_frees_everything() {
    let dir = TempDir::new("isolate-drop");
    let kv = KvBinding::open(dir.path("kv.sqlite"), Durability::Normal).unwrap();
    let src = "export default {
      fetch(request, env) {
        env.KV.put('never', new ReadableStream({ pull() {} }));
        env.KV.put('half', new ReadableStream({ start(c) { c.enqueue(new Uint8Array([1, 2])); } }));
        return new Response('ok');
      },
    };";
    let bundle = Bundle::from_sources("index.js", [("index.js".to_string(), src.to_string())]);
    let spec = Arc::new(WorkerSpec {
        name: "drop".into(),
        version: 1,
        bundle: Arc::new(CompiledBundle::compile(&bundle).unwrap()),
        env: vec![("KV".into(), EnvValue::Binding(Arc::new(kv.clone())))],
        limits: Limits::default(),
        dev: true,
        allow_private_fetch: false,
        cache: None,
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&rt, async {
        let iso = Isolate::start(Fresh::new().await.unwrap(), spec)
            .await
            .unwrap();
        let resp = iso
            .dispatch(HostRequest {
                method: http::Method::GET,
                url: "http://localhost/".into(),
                headers: http::HeaderMap::new(),
                body: None,
            })
            .await
            .map_err(|e| e.to_string())
            .unwrap();
        assert_eq!(resp.status(), 200);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        drop(iso);
    });
    assert_eq!(kv.store().get("never").unwrap(), None);
    assert_eq!(kv.store().get("half").unwrap(), None);
}
