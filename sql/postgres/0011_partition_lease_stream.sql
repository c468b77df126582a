-- Partitioned mode (ARCHITECTURE §9): a partition's fence remembers which lease stream issued its
-- token (the stream's creation time, as NATS reports it in stream info `created`). Tokens are
-- sequences of one stream: a token of an older lease stream is refused whatever its value, and the
-- first claim from a newer one (the lease stream was lost and recreated) resets the epoch.
-- NULL: a fence claimed before this migration; its next claim compares tokens and records the stream.
-- Single-process mode does not use this table.
ALTER TABLE arena_partition_checkpoint ADD COLUMN lease_stream_created text;
