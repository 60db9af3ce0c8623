-- The cadres below a division are chosen by the village range of their assignments (the
-- township table, the console's county list, and each batched attendance read repeats that
-- choice as a subquery): without this, every one of them scans all assignments.
CREATE INDEX assignments_division ON assignments (division_code, starts_on);
