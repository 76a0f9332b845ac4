//! The control API and a following node in one process: upload, deploy,
//! the node's report, a secret, a rollback, and a node that outlives its
//! control plane and restarts from its own directory.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use outpost_control::api::{Deployed, NewVersion, NodeStatus, Rollback, Scope, BUNDLE_HASH_HEADER};
use outpost_control::{Client, ControlConfig, ControlServer, FollowConfig, Follower};
use outpost_node::{Node, NodeConfig, Routes};
use outpost_runtime::{content_hash, Bundle};
use outpost_testkit::{get, wait_for};

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("outpost-control-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn bundle(text: &str) -> (String, Vec<u8>) {
    let b = Bundle::from_sources(
        "index.js",
        [(
            "index.js".to_string(),
            format!(
                "export default {{ fetch(req, env) {{ return new Response('{text} ' + env.GREETING + ' ' + (env.KEY ?? '-')); }} }};"
            ),
        )],
    );
    let bytes = b.to_wire();
    (content_hash(&bytes), bytes)
}

fn deploy(client: &Client, text: &str) -> Deployed {
    let (hash, bytes) = bundle(text);
    block_on(async {
        client
            .call(
                Method::PUT,
                &format!("/v1/bundles/{hash}"),
                &[(BUNDLE_HASH_HEADER, hash.clone())],
                Bytes::from(bytes),
            )
            .await
            .unwrap();
        client
            .send_json(
                Method::POST,
                "/v1/workers/hello/versions",
                &NewVersion {
                    bundle: hash,
                    vars: [("GREETING".to_string(), serde_json::json!("hi"))].into(),
                    ..NewVersion::default()
                },
            )
            .await
            .unwrap()
    })
}

fn start_node(
    dir: &std::path::Path,
    control: &str,
    token: &str,
) -> (Node, outpost_control::FollowerHandle, usize) {
    let routes = Arc::new(Routes::new());
    let mut follower = Follower::new(
        FollowConfig {
            control: control.to_string(),
            token: token.to_string(),
            dir: dir.to_path_buf(),
            region: "test".into(),
            data: None,
            data_addr: "127.0.0.1:0".parse().unwrap(),
            log_retain: 1000,
        },
        routes.clone(),
    )
    .unwrap();
    let restored = follower.restored();
    let node = Node::start(
        NodeConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            threads: 1,
            warm_pool: 0,
            ..NodeConfig::default()
        },
        routes,
    )
    .unwrap();
    follower.set_addr(format!("http://{}", node.addr()));
    (node, follower.spawn().unwrap(), restored)
}

fn serves(node: &Node, expected: &str) {
    wait_for(
        &format!("the node to serve {expected:?}"),
        Duration::from_secs(10),
        || {
            let r = get(node.addr(), "hello.localhost", "/").ok()?;
            (r.text() == expected).then_some(())
        },
    );
}

#[test]
fn a_node_follows_deploys_secrets_and_rollbacks_and_outlives_the_control_plane() {
    let dir = scratch("follow");
    let control = ControlServer::start(ControlConfig {
        dir: dir.join("control"),
        addr: "127.0.0.1:0".parse().unwrap(),
        domain: "localhost".into(),
        region: "test".into(),
        log_retain: 10_000,
    })
    .unwrap();
    assert!(control.created_admin_token());
    let admin = std::fs::read_to_string(control.admin_token_path()).unwrap();
    let client = Client::new(&control.url(), Some(admin.trim().to_string())).unwrap();
    let node_token = control
        .ensure_token_file(&dir.join("node-token"), "node", Scope::Node)
        .unwrap();
    // The same file gives the same token next time.
    assert_eq!(
        control
            .ensure_token_file(&dir.join("node-token"), "node", Scope::Node)
            .unwrap(),
        node_token
    );
    let (node, follower, restored) = start_node(&dir.join("node"), &control.url(), &node_token);
    assert_eq!(restored, 0);

    let d1 = deploy(&client, "one");
    serves(&node, "one hi -");
    let nodes: Vec<NodeStatus> = block_on(client.get_json("/v1/nodes")).unwrap();
    assert_eq!(nodes.len(), 1);
    assert!(nodes[0].online);
    wait_for("the node to report", Duration::from_secs(10), || {
        let nodes: Vec<NodeStatus> = block_on(client.get_json("/v1/nodes")).ok()?;
        (nodes[0].report.workers.get("hello")?.deployment == d1.deployment).then_some(())
    });

    block_on(client.call(
        Method::PUT,
        "/v1/workers/hello/secrets/KEY",
        &[],
        Bytes::from_static(b"k3y"),
    ))
    .unwrap();
    serves(&node, "one hi k3y");
    deploy(&client, "two");
    serves(&node, "two hi k3y");
    let back: Deployed = block_on(client.send_json(
        Method::POST,
        "/v1/workers/hello/rollback",
        &Rollback::default(),
    ))
    .unwrap();
    assert_eq!(back.version, 1);
    serves(&node, "one hi k3y");

    // A node token may follow but not deploy.
    let as_node = Client::new(&control.url(), Some(node_token.clone())).unwrap();
    let e = block_on(as_node.get_json::<serde_json::Value>("/v1/workers")).unwrap_err();
    assert_eq!(e.status(), Some(403), "{e}");

    // The control plane goes away: the node keeps serving, and a restarted
    // node serves its last good state from its directory.
    control.shutdown();
    serves(&node, "one hi k3y");
    drop(follower);
    node.shutdown();
    let (node, _follower, restored) =
        start_node(&dir.join("node"), "http://127.0.0.1:9", &node_token);
    assert_eq!(restored, 1);
    serves(&node, "one hi k3y");
}
