//! `LocalData`: files under the state directory, opened once per process,
//! surviving a reopen.

use std::sync::Arc;

use outpost_data::Value as SqlValue;

use crate::testing::TempDir;
use crate::LocalData;

#[test]
fn opens_each_file_once_and_keeps_data_across_processes() {
    let dir = TempDir::new("local");
    let state = dir.path(".outpost");
    {
        let data = LocalData::new();
        let a = data
            .d1(&state, "4e1c28a9-90e4-41da-8b4b-6cf36e5abb29")
            .unwrap();
        let b = data
            .d1(&state, "4e1c28a9-90e4-41da-8b4b-6cf36e5abb29")
            .unwrap();
        assert!(Arc::ptr_eq(a.primary().unwrap(), b.primary().unwrap()));
        let other = data.d1(&state, "other").unwrap();
        assert!(!Arc::ptr_eq(a.primary().unwrap(), other.primary().unwrap()));
        a.primary()
            .unwrap()
            .exec("CREATE TABLE t(x); INSERT INTO t VALUES (7)")
            .unwrap();
        let kv = data.kv(&state, "abc123").unwrap();
        assert!(Arc::ptr_eq(
            kv.store(),
            data.kv(&state, "abc123").unwrap().store()
        ));
        kv.store().put("k", b"v", &Default::default()).unwrap();
        // Ids are made safe as file names.
        data.kv(&state, "../../escape").unwrap();
    }
    assert!(state
        .join("d1/4e1c28a9-90e4-41da-8b4b-6cf36e5abb29.sqlite")
        .is_file());
    assert!(state.join("kv/abc123.sqlite").is_file());
    assert!(state.join("kv/.._.._escape.sqlite").is_file());
    // A new process (a new LocalData) sees the data.
    let data = LocalData::new();
    let db = data
        .d1(&state, "4e1c28a9-90e4-41da-8b4b-6cf36e5abb29")
        .unwrap();
    assert_eq!(
        db.primary()
            .unwrap()
            .query("SELECT x FROM t", &[])
            .unwrap()
            .rows,
        vec![vec![SqlValue::Integer(7)]]
    );
    let kv = data.kv(&state, "abc123").unwrap();
    assert_eq!(kv.store().get("k").unwrap().unwrap().value, b"v");
}
