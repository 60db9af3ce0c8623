//! One assignment at a time, as the console's person page makes them: a division from a day
//! (until a day, or open-ended), and the end of one. Whole-set changes are elsewhere
//! (`set_assignments`, `schedule_assignments`, `hand_over`), which replace or hand over whole
//! sets and so do not fit. Two periods of one person in one division never overlap: both
//! writes check it in their transaction.

use uuid::Uuid;

use super::{Engine, Result, Store, StoreError, Tx, execute, fetch_scalar};

/// Where an open end sorts: after every real day (`YYYY-MM-DD` text compares as dates do).
pub const OPEN_END: &str = "9999-12-31";

/// What ending an assignment found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    Done,
    /// No such assignment of the person.
    NotFound,
    /// The new end would run into a later period of the same division.
    Overlaps,
}

impl Store {
    /// Assigns a person to `division` from `starts_on` until `ends_on` (`YYYY-MM-DD`, `None`
    /// open-ended). `false`, changing nothing, when a period of theirs in that division
    /// overlaps it.
    pub async fn add_assignment(
        &self,
        user_id: Uuid,
        division: &str,
        starts_on: &str,
        ends_on: Option<&str>,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        if tx
            .overlapping(user_id, division, starts_on, ends_on, None)
            .await?
        {
            return Ok(false);
        }
        execute!(
            tx.conn(),
            "INSERT INTO assignments (user_id, division_code, starts_on, ends_on)
             VALUES ($1, $2, $3, $4)",
            user_id,
            division,
            starts_on,
            ends_on,
        )
        .map_err(StoreError::from_db)?;
        tx.commit().await?;
        Ok(true)
    }

    /// Ends the person's assignment to `division` that starts on `starts_on` on `ends_on`
    /// (its last day).
    pub async fn end_assignment(
        &self,
        user_id: Uuid,
        division: &str,
        starts_on: &str,
        ends_on: &str,
    ) -> Result<Ending> {
        let mut tx = self.begin().await?;
        if tx
            .overlapping(user_id, division, starts_on, Some(ends_on), Some(starts_on))
            .await?
        {
            return Ok(Ending::Overlaps);
        }
        let n = execute!(
            tx.conn(),
            "UPDATE assignments SET ends_on = $4
             WHERE user_id = $1 AND division_code = $2 AND starts_on = $3",
            user_id,
            division,
            starts_on,
            ends_on,
        )?;
        if n == 0 {
            return Ok(Ending::NotFound);
        }
        tx.commit().await?;
        Ok(Ending::Done)
    }
}

impl Tx {
    /// Whether a period of the person in `division` other than the one starting on `except`
    /// overlaps `[starts_on, ends_on]`.
    async fn overlapping(
        &mut self,
        user_id: Uuid,
        division: &str,
        starts_on: &str,
        ends_on: Option<&str>,
        except: Option<&str>,
    ) -> Result<bool> {
        // Two offices changing one person's periods at once: on PostgreSQL the second waits
        // here for the first to commit, then counts its period too. (SQLite's writes are one
        // at a time already.)
        if let Engine::Postgres(c) = self.conn() {
            sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
                .bind(user_id)
                .execute(c)
                .await?;
        }
        let n: i64 = fetch_scalar!(
            self.conn(),
            fetch_one,
            i64,
            "SELECT COUNT(*) FROM assignments
             WHERE user_id = $1 AND division_code = $2
               AND starts_on <= $4 AND COALESCE(ends_on, $6) >= $3
               AND ($5 IS NULL OR starts_on <> $5)",
            user_id,
            division,
            starts_on,
            ends_on.unwrap_or(OPEN_END),
            except,
            OPEN_END,
        )?;
        Ok(n > 0)
    }
}
