CREATE TYPE status AS ENUM ('open', 'done');
CREATE TABLE tasks (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title text NOT NULL,
    note text,
    status status NOT NULL DEFAULT 'open',
    due timestamptz,
    legacy text
);
