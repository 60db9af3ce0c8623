//! `admin publish-form`, `retire-form` and `forms`: the survey form versions phones fill, by
//! the operations the console's forms page runs (`service::forms`).

use std::path::Path;

use anyhow::{Context, bail};
use fieldsync_protocol::forms::FormDef;

use super::local_time;
use crate::service::forms;
use crate::store::Store;

pub(super) async fn publish(store: &Store, file: &Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let form = match FormDef::from_json(&text) {
        Ok(form) => form,
        Err(problems) => {
            for p in &problems {
                eprintln!("  {p}");
            }
            bail!(
                "{} is not a form definition that can be published ({} problems, listed above)",
                file.display(),
                problems.len()
            );
        }
    };
    forms::publish_definition(store, &form, None).await?;
    println!(
        "published form {} version {} ({} fields)",
        form.key,
        form.version,
        form.fields.len()
    );
    Ok(())
}

pub(super) async fn retire(store: &Store, key: &str, version: u32) -> anyhow::Result<()> {
    let retired = forms::retire_version(store, key, version).await?;
    let already = if retired { "" } else { " (it already was)" };
    println!(
        "retired form {key} version {version}{already}: surveys captured on it from now on are refused"
    );
    Ok(())
}

pub(super) async fn list(store: &Store) -> anyhow::Result<()> {
    for f in forms::versions(store).await? {
        let state = f.retired_at.map_or_else(
            || "in use".to_owned(),
            |at| format!("retired {}", local_time(at)),
        );
        println!(
            "{:<28} v{:<4} {:<20} published {}  {:<28} {} surveys",
            f.definition.key,
            f.definition.version,
            f.definition.title,
            local_time(f.published_at),
            state,
            f.surveys
        );
    }
    Ok(())
}
