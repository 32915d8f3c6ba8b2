CREATE INDEX IF NOT EXISTS items_created_at ON items (created_at);
