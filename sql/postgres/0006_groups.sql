-- Groups (PUT/DELETE/GET /v1/groups/{group_id}): a name, an owner (the token's sub) and up to
-- 10,000 member user ids; board `group:<id>` ranks the members by their global score. Loaded into
-- memory at start; every write goes here first.
CREATE TABLE arena_groups (
  id         text        PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9._-]{1,64}$'),
  name       text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
  owner      text        NOT NULL CHECK (char_length(owner) BETWEEN 1 AND 128),
  members    text[]      NOT NULL CHECK (cardinality(members) <= 10000),
  updated_at timestamptz NOT NULL DEFAULT now()
);
