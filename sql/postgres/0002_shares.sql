-- Conversation shares (POST/GET /v1/shares). `seq` orders lists and backs the keyset cursor;
-- `id` is the public, unguessable identifier (unlisted shares are reachable only through it).
CREATE TABLE arena_shares (
  seq           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id            text        NOT NULL UNIQUE CHECK (id ~ '^[A-Za-z0-9_-]{22}$'),
  owner         text        NOT NULL CHECK (char_length(owner) BETWEEN 1 AND 128),
  title         text        NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
  content       text        NOT NULL CHECK (octet_length(content) <= 65536),
  privacy_level text        NOT NULL CHECK (privacy_level IN ('public', 'unlisted', 'private')),
  agents_used   text[]      NOT NULL DEFAULT '{}',
  xp_earned     bigint      NOT NULL DEFAULT 0 CHECK (xp_earned >= 0),
  tags          text[]      NOT NULL DEFAULT '{}',
  created_at    timestamptz NOT NULL DEFAULT now()
);

-- Anonymous lists read only public rows, newest first; owners list their own.
CREATE INDEX arena_shares_public_seq ON arena_shares (seq DESC) WHERE privacy_level = 'public';
CREATE INDEX arena_shares_owner_seq ON arena_shares (owner, seq DESC);
