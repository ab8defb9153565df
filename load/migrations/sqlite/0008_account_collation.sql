-- PostgreSQL's account numbers compare byte by byte from this version on (COLLATE "C"), as
-- SQLite's TEXT always has (BINARY): nothing to change here; the version keeps both engines'
-- schema numbers alike.
SELECT 1;
