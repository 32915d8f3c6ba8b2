-- pgready:allow(require-concurrent-index-creation) `items` is new and empty when this runs
CREATE INDEX IF NOT EXISTS items_created_at ON items (created_at);
