//! What staffing by village class reads: the villages below a division with the category an
//! administrator designated, and the cadres' assignments to them from a day on, each in one
//! query (a county is some 300 villages and 900 cadres); and the designations themselves.

use uuid::Uuid;

use super::attendance::cadre_assignment;
use super::{AuditEntry, Result, Store, execute, fetch_as};

/// A village below a division, with the category an administrator gave it, if any.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct VillageClassRow {
    pub code: String,
    pub name: String,
    pub designated: Option<String>,
}

/// A first secretary's or work team member's assignment to a village.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PostingRow {
    pub user_id: Uuid,
    pub username: String,
    pub display_name: Option<String>,
    pub role: String,
    pub village: String,
    pub starts_on: String,
    pub ends_on: Option<String>,
}

/// The last day there is: an open-ended period's end, for [`cadre_assignment!`]'s `$4`.
const NO_END: &str = "9999-12-31";

impl Store {
    /// The villages at or below `division`, by code, with their designated category.
    pub async fn village_classes(&self, division: &str) -> Result<Vec<VillageClassRow>> {
        let (lo, hi) = super::identity::village_range(division);
        Ok(fetch_as!(
            self.reader(),
            fetch_all,
            VillageClassRow,
            "SELECT d.code, d.name, c.category AS designated
             FROM divisions d LEFT JOIN village_categories c ON c.village_code = d.code
             WHERE d.code >= $1 AND d.code <= $2 AND d.level = 'village'
             ORDER BY d.code",
            lo,
            hi,
        )?)
    }

    /// The assignments of active first secretaries and work team members to villages at or
    /// below `division` that run on `from` or start later. A disabled account holds no post.
    pub async fn postings_under(&self, division: &str, from: &str) -> Result<Vec<PostingRow>> {
        let (lo, hi) = super::identity::village_range(division);
        Ok(fetch_as!(
            self.reader(),
            fetch_all,
            PostingRow,
            concat!(
                "SELECT a.user_id, u.username, u.display_name, u.role,
                        a.division_code AS village, a.starts_on, a.ends_on
                 FROM assignments a JOIN users u ON u.id = a.user_id
                 WHERE u.disabled_at IS NULL AND ",
                cadre_assignment!(),
                " ORDER BY a.division_code, a.starts_on"
            ),
            lo,
            hi,
            from,
            NO_END,
        )?)
    }

    /// Designates `village` as `category` (`None`: back to its county's), with its audit
    /// entry, in one transaction. Whether anything changed.
    pub async fn set_village_category(
        &self,
        village: &str,
        category: Option<&str>,
        by: Uuid,
        now_ms: i64,
        audit: &AuditEntry,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let changed = match category {
            Some(c) => execute!(
                tx.conn(),
                "INSERT INTO village_categories (village_code, category, set_by, set_at)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (village_code) DO UPDATE
                     SET category = excluded.category, set_by = excluded.set_by,
                         set_at = excluded.set_at
                 WHERE village_categories.category <> excluded.category",
                village,
                c,
                by,
                now_ms,
            )?,
            None => execute!(
                tx.conn(),
                "DELETE FROM village_categories WHERE village_code = $1",
                village,
            )?,
        };
        if changed == 0 {
            return Ok(false);
        }
        tx.append_audit(std::slice::from_ref(audit), now_ms).await?;
        tx.commit().await?;
        Ok(true)
    }
}
