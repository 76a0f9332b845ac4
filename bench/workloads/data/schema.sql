-- The items table of the data benchmark (bench/data) and its 10,000 seed rows.
-- Run once per fresh database, by `outpost db execute DB --file` for Outpost and
-- by node.js (db.exec) for the better-sqlite3 peer, so both start from the same rows.
CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL NOT NULL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
INSERT INTO items(name, price) SELECT 'item ' || i, (i % 100) + 0.5 FROM n;
