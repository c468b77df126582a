-- The event's `metadata` (≤ 4 KiB, ARCHITECTURE §11 "Event metadata") kept with each award, so
-- analysts can break agent performance down by what producers send: `metadata.model`,
-- `metadata.repo.name`, … are typed subcolumns (JSON type; paths beyond the limit share one
-- column, still queryable). Rows written before this migration, and events without metadata,
-- hold `{}`. The sink sends the JSON text (input_format_binary_read_json_as_string = 1).
ALTER TABLE awards ADD COLUMN IF NOT EXISTS metadata JSON(max_dynamic_paths = 256);
