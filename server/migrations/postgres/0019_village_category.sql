-- A village's category (分类定村) is its county's by default (B: the five national key counties,
-- C: the four regional key counties and 永宁县, 沙坡头区, 中宁县, D: the rest; `staffing::category`).
-- An administrator's designation overrides it: `A`, a resettlement village (移民安置村, a list the
-- region keeps, not derivable from any code), or `D`, a village of a B or C county that is not
-- one of the out-of-poverty villages the policy classes there. Removing the row returns the
-- village to its county's category. Who set it and when is also in `audit_log`.
CREATE TABLE village_categories (
    village_code TEXT PRIMARY KEY REFERENCES divisions (code),
    category     TEXT NOT NULL CHECK (category IN ('A', 'D')),
    set_by       UUID NOT NULL,
    set_at       BIGINT NOT NULL
);
