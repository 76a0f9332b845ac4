//! Log entries and their byte encoding.
//!
//! An entry is one committed transaction. Its encoding is a small hand-written
//! little-endian format, checked by a CRC-32 (IEEE) over everything before it:
//!
//! ```text
//! entry   := version:u8 (=1) position:u64 committed_at_ms:u64 op_count:u32 op* crc32:u32
//! op      := 1 bytes                      -- changeset (session extension format)
//!          | 2 str bytes                  -- schema statement + its own row effects (changeset, may be empty)
//!          | 3 str u32 str* u32 row*      -- rows of a table created by CREATE TABLE .. AS SELECT
//!          | 4 u32 (str u8 i64)*          -- sqlite_sequence rows: name, present?, seq
//! row     := cell*  (rowid first, then one cell per column)
//! cell    := 0 | 1 i64 | 2 f64-bits | 3 bytes | 4 bytes   -- null, integer, real, text, blob
//! str     := bytes (UTF-8);  bytes := len:u32 data
//! stream  := (len:u32 entry)*             -- encode_entries / decode_entries
//! ```
//!
//! Why not serde plus a codec: the payload is already binary (changesets are
//! SQLite's own format), there are four op kinds, and a fixed layout with a
//! checksum is easy to read from any language on the HTTP side later. The
//! version byte leaves room to change it.

use crate::error::{Error, Result};
use crate::Position;

const VERSION: u8 = 1;

/// One committed transaction of the primary, as shipped to replicas.
///
/// Entries are produced by [`Primary::log_since`](crate::Primary::log_since),
/// turned into bytes with [`Entry::encode`] (or [`encode_entries`] for a
/// batch), and applied with [`Replica::apply`](crate::Replica::apply).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub(crate) position: Position,
    pub(crate) committed_at_ms: u64,
    pub(crate) ops: Vec<Op>,
}

/// One step of an entry, applied in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Op {
    /// Row changes recorded by the session extension.
    Changeset(Vec<u8>),
    /// A schema statement, replayed verbatim, then its own row effects (for
    /// example rows deleted by foreign-key actions of a `DROP TABLE`),
    /// applied with conflicts resolved in the primary's favour.
    Schema { sql: String, effects: Vec<u8> },
    /// The initial rows of a table created by `CREATE TABLE .. AS SELECT`
    /// (logged as the table's definition, then these rows, so that the
    /// `SELECT` is not re-run on the replica).
    Rows {
        table: String,
        columns: Vec<String>,
        rows: Vec<Vec<Cell>>,
    },
    /// Changed `sqlite_sequence` rows (`None`: the row was removed).
    Sequence(Vec<(String, Option<i64>)>),
}

/// A raw SQLite value (text kept as bytes, so nothing is lost).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Null,
    Integer(i64),
    Real(f64),
    Text(Vec<u8>),
    Blob(Vec<u8>),
}

impl Cell {
    pub(crate) fn from_ref(v: rusqlite::types::ValueRef<'_>) -> Cell {
        use rusqlite::types::ValueRef;
        match v {
            ValueRef::Null => Cell::Null,
            ValueRef::Integer(i) => Cell::Integer(i),
            ValueRef::Real(f) => Cell::Real(f),
            ValueRef::Text(t) => Cell::Text(t.to_vec()),
            ValueRef::Blob(b) => Cell::Blob(b.to_vec()),
        }
    }
}

impl rusqlite::ToSql for Cell {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Cell::Null => ValueRef::Null,
            Cell::Integer(i) => ValueRef::Integer(*i),
            Cell::Real(f) => ValueRef::Real(*f),
            Cell::Text(t) => ValueRef::Text(t),
            Cell::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

impl Entry {
    /// The entry's log position (its commit's bookmark).
    pub fn position(&self) -> Position {
        self.position
    }

    /// When the primary committed it, in milliseconds since the Unix epoch
    /// (for measuring replication lag).
    pub fn committed_at_ms(&self) -> u64 {
        self.committed_at_ms
    }

    /// Number of steps (changesets, schema statements, ...) in the entry.
    pub fn op_count(&self) -> usize {
        self.ops.len()
    }

    /// Encodes the entry (self-checking; see the module docs for the layout).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Vec::with_capacity(64);
        w.push(VERSION);
        w.extend_from_slice(&self.position.to_le_bytes());
        w.extend_from_slice(&self.committed_at_ms.to_le_bytes());
        put_u32(&mut w, self.ops.len());
        for op in &self.ops {
            match op {
                Op::Changeset(cs) => {
                    w.push(1);
                    put_bytes(&mut w, cs);
                }
                Op::Schema { sql, effects } => {
                    w.push(2);
                    put_bytes(&mut w, sql.as_bytes());
                    put_bytes(&mut w, effects);
                }
                Op::Rows {
                    table,
                    columns,
                    rows,
                } => {
                    w.push(3);
                    put_bytes(&mut w, table.as_bytes());
                    put_u32(&mut w, columns.len());
                    for c in columns {
                        put_bytes(&mut w, c.as_bytes());
                    }
                    put_u32(&mut w, rows.len());
                    for row in rows {
                        for cell in row {
                            put_cell(&mut w, cell);
                        }
                    }
                }
                Op::Sequence(seqs) => {
                    w.push(4);
                    put_u32(&mut w, seqs.len());
                    for (name, seq) in seqs {
                        put_bytes(&mut w, name.as_bytes());
                        w.push(seq.is_some() as u8);
                        w.extend_from_slice(&seq.unwrap_or(0).to_le_bytes());
                    }
                }
            }
        }
        let crc = crc32(&w);
        w.extend_from_slice(&crc.to_le_bytes());
        w
    }

    /// Decodes bytes written by [`Entry::encode`], checking version and checksum.
    pub fn decode(bytes: &[u8]) -> Result<Entry> {
        if bytes.len() < 4 {
            return Err(Error::Corrupt("entry shorter than its checksum".into()));
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        if crc32(body) != u32::from_le_bytes(crc.try_into().unwrap()) {
            return Err(Error::Corrupt("entry checksum mismatch".into()));
        }
        let mut r = Reader { buf: body, at: 0 };
        let version = r.u8()?;
        if version != VERSION {
            return Err(Error::Corrupt(format!("unknown entry version {version}")));
        }
        let position = r.u64()?;
        let committed_at_ms = r.u64()?;
        let n = r.u32()?;
        let mut ops = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            ops.push(match r.u8()? {
                1 => Op::Changeset(r.bytes()?.to_vec()),
                2 => Op::Schema {
                    sql: r.string()?,
                    effects: r.bytes()?.to_vec(),
                },
                3 => {
                    let table = r.string()?;
                    let ncols = r.u32()?;
                    let columns = (0..ncols).map(|_| r.string()).collect::<Result<Vec<_>>>()?;
                    let nrows = r.u32()?;
                    let mut rows = Vec::with_capacity(nrows.min(1 << 16));
                    for _ in 0..nrows {
                        rows.push(
                            (0..ncols + 1)
                                .map(|_| r.cell())
                                .collect::<Result<Vec<_>>>()?,
                        );
                    }
                    Op::Rows {
                        table,
                        columns,
                        rows,
                    }
                }
                4 => {
                    let n = r.u32()?;
                    let mut seqs = Vec::with_capacity(n.min(1024));
                    for _ in 0..n {
                        let name = r.string()?;
                        let present = r.u8()? != 0;
                        let seq = r.u64()? as i64;
                        seqs.push((name, present.then_some(seq)));
                    }
                    Op::Sequence(seqs)
                }
                tag => return Err(Error::Corrupt(format!("unknown op tag {tag}"))),
            });
        }
        if r.at != body.len() {
            return Err(Error::Corrupt("trailing bytes after entry".into()));
        }
        Ok(Entry {
            position,
            committed_at_ms,
            ops,
        })
    }
}

/// Encodes entries as one byte stream (each entry prefixed by its length),
/// the unit a replica pulls over HTTP.
pub fn encode_entries(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let bytes = e.encode();
        put_u32(&mut out, bytes.len());
        out.extend_from_slice(&bytes);
    }
    out
}

/// Decodes a stream written by [`encode_entries`].
pub fn decode_entries(mut bytes: &[u8]) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        if bytes.len() < 4 {
            return Err(Error::Corrupt("truncated entry length".into()));
        }
        let len = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
        let rest = &bytes[4..];
        if rest.len() < len {
            return Err(Error::Corrupt("truncated entry".into()));
        }
        out.push(Entry::decode(&rest[..len])?);
        bytes = &rest[len..];
    }
    Ok(out)
}

fn put_u32(w: &mut Vec<u8>, n: usize) {
    let n = u32::try_from(n).expect("log field longer than 4 GiB");
    w.extend_from_slice(&n.to_le_bytes());
}

fn put_bytes(w: &mut Vec<u8>, b: &[u8]) {
    put_u32(w, b.len());
    w.extend_from_slice(b);
}

fn put_cell(w: &mut Vec<u8>, c: &Cell) {
    match c {
        Cell::Null => w.push(0),
        Cell::Integer(i) => {
            w.push(1);
            w.extend_from_slice(&i.to_le_bytes());
        }
        Cell::Real(f) => {
            w.push(2);
            w.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Cell::Text(t) => {
            w.push(3);
            put_bytes(w, t);
        }
        Cell::Blob(b) => {
            w.push(4);
            put_bytes(w, b);
        }
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() - self.at < n {
            return Err(Error::Corrupt("entry truncated".into()));
        }
        let s = &self.buf[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<usize> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()) as usize)
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.u32()?;
        self.take(n)
    }
    fn string(&mut self) -> Result<String> {
        String::from_utf8(self.bytes()?.to_vec())
            .map_err(|_| Error::Corrupt("invalid UTF-8 in entry".into()))
    }
    fn cell(&mut self) -> Result<Cell> {
        Ok(match self.u8()? {
            0 => Cell::Null,
            1 => Cell::Integer(self.u64()? as i64),
            2 => Cell::Real(f64::from_bits(self.u64()?)),
            3 => Cell::Text(self.bytes()?.to_vec()),
            4 => Cell::Blob(self.bytes()?.to_vec()),
            t => return Err(Error::Corrupt(format!("unknown value tag {t}"))),
        })
    }
}

/// CRC-32 (IEEE 802.3, reflected, as zlib computes it).
fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    let mut crc = !0u32;
    for &b in data {
        crc = TABLE[((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Entry {
        Entry {
            position: 42,
            committed_at_ms: 1_700_000_000_123,
            ops: vec![
                Op::Changeset(vec![1, 2, 3]),
                Op::Schema {
                    sql: "CREATE TABLE t(a)".into(),
                    effects: vec![],
                },
                Op::Rows {
                    table: "t".into(),
                    columns: vec!["a".into()],
                    rows: vec![
                        vec![Cell::Integer(1), Cell::Real(-0.5)],
                        vec![Cell::Integer(i64::MIN), Cell::Text(vec![0xff, 0])],
                        vec![Cell::Integer(i64::MAX), Cell::Blob(vec![])],
                        vec![Cell::Integer(3), Cell::Null],
                    ],
                },
                Op::Sequence(vec![("t".into(), Some(7)), ("u".into(), None)]),
            ],
        }
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn entry_round_trips() {
        let e = sample();
        assert_eq!(Entry::decode(&e.encode()).unwrap(), e);
    }

    #[test]
    fn stream_round_trips_and_detects_damage() {
        let a = sample();
        let mut b = sample();
        b.position = 43;
        let bytes = encode_entries(&[a.clone(), b.clone()]);
        assert_eq!(decode_entries(&bytes).unwrap(), vec![a, b]);
        assert!(decode_entries(&bytes[..bytes.len() - 1]).is_err());
        let mut flipped = bytes.clone();
        flipped[20] ^= 1;
        assert!(matches!(decode_entries(&flipped), Err(Error::Corrupt(_))));
        assert!(decode_entries(&[]).unwrap().is_empty());
    }
}
