-- Dropping is allowed, but worth a warning.
DROP TABLE IF EXISTS old_things;
