ALTER TABLE tasks RENAME COLUMN note TO remark;
ALTER TABLE tasks DROP COLUMN legacy;
ALTER TABLE tasks ADD COLUMN owner text;
