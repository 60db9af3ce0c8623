//! Statistical divisions (province … village), the map of scopes.

use super::{Result, Store, StoreError, Tx, execute, fetch_as, fetch_scalar};

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Division {
    pub code: String,
    pub name: String,
    pub level: String,
    pub parent_code: Option<String>,
}

impl Store {
    /// Inserts or updates divisions in one transaction; returns how many were written.
    /// `progress` is called every 500 rows.
    pub async fn upsert_divisions(
        &self,
        divisions: &[Division],
        mut progress: impl FnMut(usize),
    ) -> Result<usize> {
        let mut tx = self.begin().await?;
        for (i, d) in divisions.iter().enumerate() {
            execute!(
                tx.conn(),
                "INSERT INTO divisions (code, name, level, parent_code) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level,
                     parent_code = excluded.parent_code",
                &d.code,
                &d.name,
                &d.level,
                d.parent_code.as_deref(),
            )
            .map_err(StoreError::from_db)?;
            if (i + 1) % 500 == 0 {
                progress(i + 1);
            }
        }
        tx.commit().await?;
        progress(divisions.len());
        Ok(divisions.len())
    }

    pub async fn division_count(&self) -> Result<i64> {
        Ok(fetch_scalar!(
            self.reader(),
            fetch_one,
            i64,
            "SELECT COUNT(*) FROM divisions"
        )?)
    }

    pub async fn division(&self, code: &str) -> Result<Option<Division>> {
        Ok(fetch_as!(
            self.reader(),
            fetch_optional,
            Division,
            "SELECT code, name, level, parent_code FROM divisions WHERE code = $1",
            code,
        )?)
    }

    /// Every division below a code (of any level), the code's own included; `""` for all.
    pub async fn divisions_under(&self, code: &str) -> Result<Vec<Division>> {
        let (lo, hi) = super::identity::village_range(code);
        Ok(fetch_as!(
            self.reader(),
            fetch_all,
            Division,
            "SELECT code, name, level, parent_code FROM divisions
             WHERE (code >= $1 AND code <= $2) OR code = $3 ORDER BY code",
            lo,
            hi,
            code,
        )?)
    }

    /// Villages below a division code of any level.
    pub async fn villages_under(&self, code: &str) -> Result<Vec<String>> {
        let (lo, hi) = super::identity::village_range(code);
        Ok(fetch_scalar!(
            self.reader(),
            fetch_all,
            String,
            "SELECT code FROM divisions WHERE code >= $1 AND code <= $2 AND level = 'village' ORDER BY code",
            lo,
            hi,
        )?)
    }
}

impl Tx {
    pub async fn is_village(&mut self, code: &str) -> Result<bool> {
        let n: i64 = fetch_scalar!(
            self.conn(),
            fetch_one,
            i64,
            "SELECT COUNT(*) FROM divisions WHERE code = $1 AND level = 'village'",
            code,
        )?;
        Ok(n > 0)
    }
}
