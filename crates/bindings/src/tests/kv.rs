//! `env.KV` against the Workers KV API documentation and its limits.

use std::sync::Arc;
use std::time::Duration;

use outpost_data::{Durability, Replica, Value as SqlValue};

use crate::clock::ManualClock;
use crate::kv::KvBinding;
use crate::testing::{run_js, TempDir};

/// 2030-01-01T00:00:00Z, in ms.
const START_MS: u64 = 1_893_456_000_000;
const START_S: u64 = START_MS / 1000;

struct Kv {
    dir: TempDir,
    binding: KvBinding,
    clock: Arc<ManualClock>,
}

impl Kv {
    fn new(name: &str) -> Kv {
        let dir = TempDir::new(name);
        let clock = Arc::new(ManualClock::new(START_MS));
        let binding =
            KvBinding::open_with_clock(dir.path("kv.sqlite"), Durability::Normal, clock.clone())
                .unwrap();
        Kv {
            dir,
            binding,
            clock,
        }
    }

    fn js(&self, body: &str) -> String {
        run_js(body, &[("KV", Arc::new(self.binding.clone()))])
    }

    fn rows(&self) -> i64 {
        match self
            .binding
            .store()
            .primary()
            .unwrap()
            .query("SELECT count(*) FROM kv", &[])
            .unwrap()
            .rows[0][0]
        {
            SqlValue::Integer(n) => n,
            ref other => panic!("{other:?}"),
        }
    }
}

#[test]
fn put_and_get_in_every_type() {
    let kv = Kv::new("types");
    let out = kv.js(
        "await env.KV.put('first-key', 'This is the value for the key');
         await env.KV.put('json', JSON.stringify({ a: [1, 'two'] }));
         const out = {};
         out.text = await env.KV.get('first-key');
         out.textOpt = await env.KV.get('first-key', { type: 'text' });
         out.json = await env.KV.get('json', 'json');
         out.jsonOpt = await env.KV.get('json', { type: 'json', cacheTtl: 60 });
         const ab = await env.KV.get('first-key', 'arrayBuffer');
         out.ab = [ab instanceof ArrayBuffer, ab.byteLength];
         const stream = await env.KV.get('first-key', 'stream');
         out.stream = [stream instanceof ReadableStream, await new Response(stream).text()];
         out.missing = [await env.KV.get('nope'), await env.KV.get('nope', 'json'), await env.KV.get('nope', 'stream')];
         return JSON.stringify(out);",
    );
    assert_eq!(
        out,
        r#"{"text":"This is the value for the key","textOpt":"This is the value for the key","json":{"a":[1,"two"]},"jsonOpt":{"a":[1,"two"]},"ab":[true,29],"stream":[true,"This is the value for the key"],"missing":[null,null,null]}"#
    );
}

#[test]
fn put_accepts_buffers_streams_and_coerces_primitives() {
    let kv = Kv::new("values");
    let out = kv.js(
        "await env.KV.put('ab', new Uint8Array([104, 105]).buffer);
         await env.KV.put('view', new Uint8Array([0, 1, 2, 3]).subarray(1, 3));
         await env.KV.put('stream', new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('str')); c.enqueue(new Uint8Array([101, 97, 109])); c.close(); } }));
         await env.KV.put('empty', '');
         await env.KV.put('number', 42);
         await env.KV.put(7, 'numeric key');
         const bytes = new Uint8Array(await env.KV.get('view', 'arrayBuffer'));
         const out = [await env.KV.get('ab'), [...bytes].join(','), await env.KV.get('stream'), await env.KV.get('empty'), await env.KV.get('number'), await env.KV.get('7')];
         const fail = async (v) => { try { await env.KV.put('k', v); return 'ok'; } catch (e) { return e.constructor.name + ': ' + e.message; } };
         out.push(await fail({}), await fail(new Map()));
         out.push(await fail(new ReadableStream({ start(c) { c.enqueue('text chunk'); c.close(); } })));
         return JSON.stringify(out);",
    );
    assert_eq!(
        out,
        r#"["hi","1,2","stream","","42","numeric key","TypeError: KV put() accepts only strings, ArrayBuffers, ArrayBufferViews, and ReadableStreams as values.","TypeError: KV put() accepts only strings, ArrayBuffers, ArrayBufferViews, and ReadableStreams as values.","TypeError: This ReadableStream did not return bytes."]"#
    );
}

#[test]
fn metadata_and_delete() {
    let kv = Kv::new("metadata");
    let out = kv.js(
        "await env.KV.put('k', 'v', { metadata: { someMetadataKey: 'someMetadataValue' } });
         await env.KV.put('plain', 'p');
         const out = [];
         out.push(await env.KV.getWithMetadata('k'));
         out.push(await env.KV.getWithMetadata('k', { type: 'arrayBuffer' }).then((r) => r.value.byteLength));
         out.push(await env.KV.getWithMetadata('plain', 'text'));
         out.push(await env.KV.getWithMetadata('missing'));
         out.push(await env.KV.delete('k'));
         out.push(await env.KV.delete('never-there'));
         out.push(await env.KV.get('k'));
         return JSON.stringify(out);",
    );
    assert_eq!(
        out,
        r#"[{"value":"v","metadata":{"someMetadataKey":"someMetadataValue"},"cacheStatus":null},1,{"value":"p","metadata":null,"cacheStatus":null},{"value":null,"metadata":null,"cacheStatus":null},null,null,null]"#
    );
}

#[test]
fn list_in_byte_order_with_prefix_metadata_and_expiration() {
    let kv = Kv::new("list");
    let out = kv.js(&format!(
        "for (const k of ['b', 'a', 'B', 'é', 'z', 'user:2', 'user:10', 'user:1']) await env.KV.put(k, 'x');
         await env.KV.put('user:3', 'x', {{ metadata: {{ role: 'admin' }}, expiration: {exp} }});
         const all = await env.KV.list();
         const users = await env.KV.list({{ prefix: 'user:' }});
         const none = await env.KV.list({{ prefix: 'nobody' }});
         return JSON.stringify([all.keys.map((k) => k.name), all.list_complete, 'cursor' in all, users, none]);",
        exp = START_S + 3600
    ));
    assert_eq!(
        out,
        format!(
            r#"[["B","a","b","user:1","user:10","user:2","user:3","z","é"],true,false,{{"keys":[{{"name":"user:1"}},{{"name":"user:10"}},{{"name":"user:2"}},{{"name":"user:3","expiration":{},"metadata":{{"role":"admin"}}}}],"list_complete":true,"cacheStatus":null}},{{"keys":[],"list_complete":true,"cacheStatus":null}}]"#,
            START_S + 3600
        )
    );
}

#[test]
fn list_pages_with_cursors_over_more_than_a_thousand_keys() {
    let kv = Kv::new("pages");
    let store = kv.binding.store();
    for i in 0..2500 {
        store
            .put(&format!("key:{i:05}"), b"v", &Default::default())
            .unwrap();
    }
    store.put("other", b"v", &Default::default()).unwrap();
    let out = kv.js(
        "const sizes = [];
         const names = [];
         let cursor;
         do {
           const page = await env.KV.list({ prefix: 'key:', cursor });
           sizes.push(page.keys.length + (page.list_complete ? '.' : '+'));
           names.push(...page.keys.map((k) => k.name));
           cursor = page.cursor;
         } while (cursor);
         const sorted = names.every((n, i) => i === 0 || names[i - 1] < n);
         const small = await env.KV.list({ limit: 2 });
         const next = await env.KV.list({ limit: 2, cursor: small.cursor });
         const exact = await env.KV.list({ prefix: 'key:0249', limit: 10 });
         return JSON.stringify([sizes, names.length, new Set(names).size, sorted, small.keys.map((k) => k.name), small.list_complete,
           next.keys.map((k) => k.name), exact.keys.length, exact.list_complete, (await env.KV.list({ limit: 0 })).keys.length]);",
    );
    assert_eq!(
        out,
        r#"[["1000+","1000+","500."],2500,2500,true,["key:00000","key:00001"],false,["key:00002","key:00003"],10,true,1000]"#
    );
}

#[test]
fn key_limits() {
    let kv = Kv::new("keys");
    let out = kv.js(
        "const err = async (p) => { try { await p; return 'ok'; } catch (e) { return e.constructor.name + ': ' + e.message; } };
         const k512 = 'é'.repeat(256);
         const k513 = k512 + 'x';
         return [
           await err(env.KV.put('', 'v')),
           await err(env.KV.get('.')),
           await err(env.KV.delete('..')),
           await err(env.KV.put(k513, 'v')),
           await err(env.KV.get(k513)),
           await err(env.KV.put(k512, 'v')),
           await env.KV.get(k512),
           await err(env.KV.list({ prefix: k513 })),
           await err(env.KV.list({ limit: 1001 })),
           await err(env.KV.get('k', { cacheTtl: 10 })),
           await err(env.KV.get('k', 'bogus')),
           await err(env.KV.get('never', 'bogus')),
           await err(env.KV.get(k512, 'bogus')),
         ].join('\\n');",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        vec![
            "TypeError: Key name cannot be empty.",
            "TypeError: \".\" is not allowed as a key name.",
            "TypeError: \"..\" is not allowed as a key name.",
            "Error: KV PUT failed: 414 UTF-8 encoded length of 513 exceeds key length limit of 512.",
            "Error: KV GET failed: 414 UTF-8 encoded length of 513 exceeds key length limit of 512.",
            "ok",
            "v",
            "Error: KV GET failed: 414 UTF-8 encoded length of 513 exceeds key length limit of 512.",
            "Error: KV GET failed: 400 Invalid key_count_limit of 1001. Please specify an integer less than 1000.",
            "Error: KV GET failed: 400 Invalid cache_ttl of 10. Cache TTL must be at least 30.",
            "ok",
            "ok",
            "TypeError: Unknown response type. Possible types are \"text\", \"arrayBuffer\", \"json\", and \"stream\".",
        ]
    );
}

#[test]
fn expiration_limits() {
    let kv = Kv::new("ttl");
    let out = kv.js(&format!(
        "const err = async (o) => {{ try {{ await env.KV.put('k', 'v', o); return 'ok'; }} catch (e) {{ return e.message; }} }};
         return [
           await err({{ expirationTtl: 59 }}),
           await err({{ expirationTtl: 0 }}),
           await err({{ expirationTtl: 60 }}),
           await err({{ expiration: {now} }}),
           await err({{ expiration: {soon} }}),
           await err({{ expiration: {ok} }}),
           await err({{ expiration: {now}, expirationTtl: 120 }}),
         ].join('\\n');",
        now = START_S,
        soon = START_S + 59,
        ok = START_S + 60
    ));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        vec![
            "KV PUT failed: 400 Invalid expiration_ttl of 59. Expiration TTL must be at least 60.".to_string(),
            "KV PUT failed: 400 Invalid expiration_ttl of 0. Please specify integer greater than 0.".to_string(),
            "ok".to_string(),
            format!("KV PUT failed: 400 Invalid expiration of {START_S}. Please specify integer greater than the current number of seconds since the UNIX epoch."),
            format!("KV PUT failed: 400 Invalid expiration of {}. Expiration times must be at least 60 seconds in the future.", START_S + 59),
            "ok".to_string(),
            "ok".to_string(),
        ]
    );
}

#[test]
fn metadata_and_value_size_limits() {
    let kv = Kv::new("sizes");
    let out = kv.js(
        "const err = async (v, o) => { try { await env.KV.put('k', v, o); return 'ok'; } catch (e) { return e.message; } };
         // JSON.stringify('x'.repeat(n)) is n + 2 bytes.
         return [
           await err('v', { metadata: 'x'.repeat(1022) }),
           await err('v', { metadata: 'x'.repeat(1023) }),
           await err(new Uint8Array(25 * 1024 * 1024)),
           await err(new Uint8Array(25 * 1024 * 1024 + 1)),
           await err(new ReadableStream({ start(c) { c.enqueue(new Uint8Array(25 * 1024 * 1024)); c.enqueue(new Uint8Array(2)); c.close(); } })),
         ].join('\\n');",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        vec![
            "ok",
            "KV PUT failed: 413 Metadata length of 1025 exceeds limit of 1024.",
            "ok",
            "KV PUT failed: 413 Value length of 26214401 exceeds limit of 26214400.",
            "KV PUT failed: 413 Value length of 26214402 exceeds limit of 26214400.",
        ]
    );
}

#[test]
fn expired_keys_are_invisible_then_purged() {
    let kv = Kv::new("expiry");
    let put = kv.js(
        "await env.KV.put('short', 'a', { expirationTtl: 60 });
         await env.KV.put('long', 'b', { expirationTtl: 3600 });
         await env.KV.put('forever', 'c');
         return (await env.KV.list()).keys.map((k) => k.name + ':' + (k.expiration ?? '-')).join(' ');",
    );
    assert_eq!(
        put,
        format!("forever:- long:{} short:{}", START_S + 3600, START_S + 60)
    );
    let look = "const l = await env.KV.list();
        return JSON.stringify([await env.KV.get('short'), await env.KV.getWithMetadata('short'), l.keys.map((k) => k.name)]);";
    kv.clock.advance(Duration::from_secs(59));
    assert_eq!(
        kv.js(look),
        r#"["a",{"value":"a","metadata":null,"cacheStatus":null},["forever","long","short"]]"#
    );
    kv.clock.advance(Duration::from_secs(1));
    assert_eq!(
        kv.js(look),
        r#"[null,{"value":null,"metadata":null,"cacheStatus":null},["forever","long"]]"#
    );
    // Still stored until a write purges it.
    assert_eq!(kv.rows(), 3);
    kv.clock.advance(Duration::from_secs(60));
    kv.js("await env.KV.put('another', 'd');");
    assert_eq!(kv.rows(), 3);
    assert_eq!(kv.js("return await env.KV.get('long')"), "b");
    // Overwriting without an expiration makes a key permanent again.
    kv.js("await env.KV.put('long', 'b2');");
    kv.clock.advance(Duration::from_secs(7200));
    assert_eq!(kv.js("return await env.KV.get('long')"), "b2");
}

#[test]
fn bulk_get() {
    let kv = Kv::new("bulk");
    let out = kv.js("await env.KV.put('a', '1', { metadata: { m: 1 } });
         await env.KV.put('b', '{\"x\":2}');
         await env.KV.put('c', 'not json');
         const show = (m) => JSON.stringify([...m]);
         const err = async (p) => { try { await p; return 'ok'; } catch (e) { return e.message; } };
         return [
           show(await env.KV.get(['a', 'b', 'missing'])),
           show(await env.KV.get(['b'], 'json')),
           show(await env.KV.getWithMetadata(['a', 'missing'])),
           await env.KV.get(['a']) instanceof Map,
           await err(env.KV.get(['a', 'c'], 'json')),
           await err(env.KV.get(['a'], 'arrayBuffer')),
           await err(env.KV.get(Array.from({ length: 101 }, (_, i) => 'k' + i))),
           await err(env.KV.get([])),
           await err(env.KV.get(['a', ''])),
         ].join('\\n');");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        vec![
            r#"[["a","1"],["b","{\"x\":2}"],["missing",null]]"#,
            r#"[["b",{"x":2}]]"#,
            r#"[["a",{"value":"1","metadata":{"m":1},"cacheStatus":null}],["missing",null]]"#,
            "true",
            "KV GET_BULK failed: 400 At least one of the requested keys corresponds to a non-json value",
            "KV GET_BULK failed: 400 \"arrayBuffer\" is not a valid type. Use \"json\" or \"text\"",
            "KV GET_BULK failed: 400 You can request a maximum of 100 keys",
            "KV GET_BULK failed: 400 You must request a minimum of 1 key",
            "KV GET_BULK failed: 400 Key names must not be empty",
        ]
    );
}

#[test]
fn kv_writes_replicate_through_the_log() {
    let kv = Kv::new("replicate");
    kv.js("await env.KV.put('a', 'one', { metadata: { n: 1 } });
         await env.KV.put('b', new Uint8Array([0, 255]));
         await env.KV.delete('a');
         await env.KV.put('c', 'three', { expirationTtl: 600 });");
    let primary = kv.binding.store().primary().unwrap();
    let replica = Replica::open(kv.dir.path("replica.sqlite")).unwrap();
    replica
        .apply_all(&primary.log_since(replica.position(), 1000).unwrap())
        .unwrap();
    assert_eq!(replica.position(), primary.position());
    assert_eq!(
        replica.content_hash().unwrap(),
        primary.content_hash().unwrap()
    );
    let rows = replica
        .query("SELECT key, value FROM kv ORDER BY key", &[])
        .unwrap()
        .rows;
    assert_eq!(
        rows,
        vec![
            vec![SqlValue::Blob(b"b".to_vec()), SqlValue::Blob(vec![0, 255])],
            vec![
                SqlValue::Blob(b"c".to_vec()),
                SqlValue::Blob(b"three".to_vec())
            ],
        ]
    );
}
