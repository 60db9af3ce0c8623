//! Column lists written once, for the `SELECT` that reads them and for the typed `NULL`s that
//! stand in for them in the other branches of a `UNION ALL` (the push's reads, `opening.rs`):
//! PostgreSQL refuses a `UNION` whose branches differ, and a list kept twice by hand drifts.

/// A column: the expression read, the name it is read as, and its PostgreSQL type.
pub(super) type Column = (&'static str, &'static str, &'static str);

/// `expr AS name, …`, for a `SELECT`.
pub(super) fn select(columns: &[Column]) -> String {
    join(columns, |(expr, name, _)| format!("{expr} AS {name}"))
}

/// `NULL::type AS name, …`: the same columns in a branch that does not read them.
pub(super) fn nulls(columns: &[Column]) -> String {
    join(columns, |(_, name, ty)| format!("NULL::{ty} AS {name}"))
}

fn join(columns: &[Column], each: impl Fn(&Column) -> String) -> String {
    columns.iter().map(each).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_reads_and_stands_in_with_the_same_names() {
        let list = [("s.id", "session_id", "uuid"), ("u.role", "role", "text")];
        assert_eq!(select(&list), "s.id AS session_id, u.role AS role");
        assert_eq!(nulls(&list), "NULL::uuid AS session_id, NULL::text AS role");
    }
}
