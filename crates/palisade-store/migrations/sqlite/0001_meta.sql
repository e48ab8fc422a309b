-- Bookkeeping about the store itself: schema origin, creation time.
CREATE TABLE IF NOT EXISTS palisade_meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
INSERT OR IGNORE INTO palisade_meta (key, value) VALUES ('created_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
