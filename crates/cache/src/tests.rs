//! Tests of the SQLite store: the CRUD contract, LRU eviction under the
//! bound, persistence across reopen, and concurrent use.

use std::path::PathBuf;

use super::*;

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "outpost-cache-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn file(&self) -> PathBuf {
        self.0.join(FILE_NAME)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn key(ns: &str, cache: Option<&str>, url: &str) -> CacheKey {
    CacheKey {
        namespace: ns.into(),
        cache: cache.map(str::to_owned),
        url: url.into(),
    }
}

fn entry(body: &[u8], expires_at_ms: u64) -> CachedResponse {
    CachedResponse {
        status: 200,
        headers: vec![
            ("content-type".into(), b"text/plain".to_vec()),
            ("x-bin".into(), vec![0xe9, b':', b' ']),
        ],
        vary_request: vec![("accept-language".into(), b"de".to_vec())],
        body: Bytes::copy_from_slice(body),
        expires_at_ms,
    }
}

const FOREVER: u64 = u64::MAX / 2;

#[test]
fn put_get_delete() {
    let dir = TempDir::new("crud");
    let s = SqliteCacheStore::open(&dir.file(), 1 << 20).unwrap();
    let k = key("w", None, "https://a/x");
    assert_eq!(s.get(&k, 0).unwrap(), None);
    s.put(&k, entry(b"one", FOREVER)).unwrap();
    assert_eq!(s.get(&k, 0).unwrap(), Some(entry(b"one", FOREVER)));
    // Replacing keeps one row and the size accounting exact.
    s.put(&k, entry(b"two!", FOREVER)).unwrap();
    assert_eq!(s.get(&k, 0).unwrap().unwrap().body, &b"two!"[..]);
    assert_eq!(s.total_bytes(), entry(b"two!", FOREVER).size(&k));
    // Namespaces and caches are separate; a named "default" is not the default.
    assert_eq!(s.get(&key("other", None, "https://a/x"), 0).unwrap(), None);
    assert_eq!(s.get(&key("w", Some(""), "https://a/x"), 0).unwrap(), None);
    s.put(
        &key("w", Some("default"), "https://a/x"),
        entry(b"named", FOREVER),
    )
    .unwrap();
    assert_eq!(s.get(&k, 0).unwrap().unwrap().body, &b"two!"[..]);
    assert!(s.delete(&k, 0).unwrap());
    assert!(!s.delete(&k, 0).unwrap());
    assert_eq!(s.get(&k, 0).unwrap(), None);
    assert!(s
        .get(&key("w", Some("default"), "https://a/x"), 0)
        .unwrap()
        .is_some());
}

#[test]
fn expired_entries_are_purged_on_lookup() {
    let dir = TempDir::new("expiry");
    let s = SqliteCacheStore::open(&dir.file(), 1 << 20).unwrap();
    let k = key("w", None, "https://a/x");
    s.put(&k, entry(b"soon stale", 1_000)).unwrap();
    assert!(s.get(&k, 999).unwrap().is_some());
    assert_eq!(s.get(&k, 1_000).unwrap(), None);
    assert_eq!(s.total_bytes(), 0);
    s.put(&k, entry(b"soon stale", 1_000)).unwrap();
    assert!(
        !s.delete(&k, 2_000).unwrap(),
        "a stale entry was not there to delete"
    );
}

#[test]
fn evicts_least_recently_used_under_the_bound() {
    let dir = TempDir::new("lru");
    let body = [7u8; 1000];
    let one = entry(&body, FOREVER).size(&key("w", None, "https://a/0"));
    // Room for exactly three entries.
    let s = SqliteCacheStore::open(&dir.file(), one * 3).unwrap();
    for i in 0..3 {
        s.put(
            &key("w", None, &format!("https://a/{i}")),
            entry(&body, FOREVER),
        )
        .unwrap();
    }
    // Touch 0, so 1 is the least recently used.
    assert!(s.get(&key("w", None, "https://a/0"), 0).unwrap().is_some());
    s.put(&key("w", None, "https://a/3"), entry(&body, FOREVER))
        .unwrap();
    let present = |i: u32| {
        s.get(&key("w", None, &format!("https://a/{i}")), 0)
            .unwrap()
            .is_some()
    };
    assert!(!present(1));
    assert!(present(0) && present(2) && present(3));
    assert!(s.total_bytes() <= s.max_bytes());
    // Order after those reads: 0, 2, 3 (3 read last). Two more evict 0 then 2.
    s.put(&key("w", None, "https://a/4"), entry(&body, FOREVER))
        .unwrap();
    s.put(&key("w", None, "https://a/5"), entry(&body, FOREVER))
        .unwrap();
    assert_eq!(
        (0..6).map(present).collect::<Vec<_>>(),
        [false, false, false, true, true, true]
    );
    // An entry larger than the whole bound is not kept, and drops the old one.
    s.put(
        &key("w", None, "https://a/3"),
        entry(&vec![0u8; one as usize * 4], FOREVER),
    )
    .unwrap();
    assert!(!present(3));
    assert_eq!(s.max_entry_bytes(), one * 3 / 4);
}

#[test]
fn expired_entries_are_evicted_before_live_ones() {
    let dir = TempDir::new("lru-expired");
    let body = [1u8; 1000];
    let one = entry(&body, FOREVER).size(&key("w", None, "https://a/live"));
    // Room for two entries, not three.
    let s = SqliteCacheStore::open(&dir.file(), one * 2 + 10).unwrap();
    s.put(&key("w", None, "https://a/live"), entry(&body, FOREVER))
        .unwrap();
    s.put(&key("w", None, "https://a/dead"), entry(&body, 1))
        .unwrap();
    s.put(&key("w", None, "https://a/new"), entry(&body, FOREVER))
        .unwrap();
    assert!(s
        .get(&key("w", None, "https://a/live"), 0)
        .unwrap()
        .is_some());
    assert!(s
        .get(&key("w", None, "https://a/new"), 0)
        .unwrap()
        .is_some());
}

#[test]
fn entries_survive_reopen() {
    let dir = TempDir::new("reopen");
    let k = key("w", Some("pages"), "https://a/p");
    {
        let s = SqliteCacheStore::open(&dir.file(), 1 << 20).unwrap();
        s.put(&k, entry(b"kept", FOREVER)).unwrap();
        s.put(&key("w", None, "https://a/old"), entry(b"stale", 1))
            .unwrap();
    }
    let s = SqliteCacheStore::open_in(&dir.0).unwrap();
    assert_eq!(s.get(&k, 0).unwrap(), Some(entry(b"kept", FOREVER)));
    // The expired entry was purged at open and is not counted.
    assert_eq!(s.total_bytes(), entry(b"kept", FOREVER).size(&k));
}

#[test]
fn concurrent_use_from_two_threads() {
    let dir = TempDir::new("threads");
    let s = Arc::new(SqliteCacheStore::open(&dir.file(), 1 << 22).unwrap());
    let handles: Vec<_> = (0..2)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                for i in 0..200 {
                    let k = key("w", None, &format!("https://a/{t}/{i}"));
                    let body = format!("{t}-{i}");
                    s.put(&k, entry(body.as_bytes(), FOREVER)).unwrap();
                    let got = s.get(&k, 0).unwrap().expect("just stored");
                    assert_eq!(got.body, body.as_bytes());
                    if i % 3 == 0 {
                        assert!(s.delete(&k, 0).unwrap());
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let kept = (0..2)
        .flat_map(|t| (0..200).map(move |i| (t, i)))
        .filter(|(t, i)| {
            s.get(&key("w", None, &format!("https://a/{t}/{i}")), 0)
                .unwrap()
                .is_some()
        })
        .count();
    assert_eq!(kept, 2 * (200 - 67));
}

#[test]
fn header_blocks_round_trip_and_reject_corruption() {
    let pairs = vec![("a".to_owned(), vec![]), ("b".to_owned(), vec![0, 255, 10])];
    assert_eq!(decode_pairs(&encode_pairs(&pairs)).unwrap(), pairs);
    assert!(decode_pairs(&[1, 0, 0]).is_err());
    assert!(decode_pairs(&[9, 0, 0, 0, b'x']).is_err());
}

#[test]
fn open_shared_gives_one_store_per_dir_opened_on_first_use() {
    let dir = TempDir::new("shared");
    let a = open_shared(&dir.0);
    let b = open_shared(&dir.0);
    assert!(Arc::ptr_eq(&a, &b));
    assert!(!dir.file().exists(), "nothing is created before first use");
    let k = key("w", None, "https://a/x");
    a.put(&k, entry(b"x", FOREVER)).unwrap();
    assert!(b.get(&k, 0).unwrap().is_some());
    assert!(dir.file().exists());
    assert_eq!(a.max_entry_bytes(), DEFAULT_MAX_BYTES / 4);
}

#[test]
fn open_failures_surface_as_call_errors() {
    let dir = TempDir::new("unopenable");
    // A file where the directory should be.
    let blocked = dir.0.join("blocked");
    std::fs::write(&blocked, b"").unwrap();
    let s = open_shared(&blocked);
    let err = s.get(&key("w", None, "https://a/x"), 0).unwrap_err();
    assert!(err.to_string().contains("cannot"), "{err}");
}
