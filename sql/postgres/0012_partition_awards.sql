-- Partitioned mode (ARCHITECTURE §9, §10): the facts of each applied event's award that a void
-- needs (its seq, user, agent, XP with bonuses, event time), kept by the event's partition. The
-- single process reads them from ClickHouse's ledger; partitioned mode has no ClickHouse yet, so
-- the owner writes them here before every snapshot commit (awaitDurable), and a replay from the
-- checkpoint writes the same rows again (ON CONFLICT DO NOTHING). An erasure deletes the user's.
-- Single-process mode does not use this table.
CREATE TABLE arena_partition_award (
  partition  smallint NOT NULL,
  event_id   text     NOT NULL,
  seq        bigint   NOT NULL,
  user_id    text     NOT NULL,
  agent_name text     NOT NULL,
  xp         bigint   NOT NULL,
  event_time text     NOT NULL,
  PRIMARY KEY (partition, event_id)
);
CREATE INDEX arena_partition_award_by_user ON arena_partition_award (partition, user_id);
