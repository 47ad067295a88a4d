-- Shiftbook terminal store, schema version 7: the anomalies a sync counts read only what they need.
-- After every sync the terminal computes its anomalies (docs/ANOMALIES.md). Without these indexes
-- both of its reads of entries scanned the whole table (326 MB on a terminal holding a million
-- pulled outputs: 0.33 s with the table in the page cache, 3.9 s once straight after the pull that
-- wrote it), whatever the anomalies; with them, 0.01 s. Each index holds only the rows its reader
-- wants, so it costs nothing for the other kinds.
-- Hours entries that are not void (overlaps, more than 24 hours in a day).
CREATE INDEX entries_hours ON entries (day) WHERE kind = 'hours' AND void = 0;
-- Output that is not void, by product and the quota version it was logged against: the stale-quota
-- reader asks, per quota in force, for its product's output logged against any other version.
CREATE INDEX entries_output_quota ON entries (product, quota_version)
  WHERE kind = 'output' AND void = 0 AND quota_version IS NOT NULL;
