//! `admin publish-form`, `retire-form` and `forms`: the survey form versions phones fill.

use std::path::Path;

use anyhow::{Context, bail};
use fieldsync_protocol::forms::FormDef;

use super::local_time;
use crate::clock;
use crate::store::{Store, StoreError};

pub(super) async fn publish(store: &Store, file: &Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let form: FormDef = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a form definition", file.display()))?;
    if let Err(problem) = form.check() {
        bail!("{}: {problem}", file.display());
    }
    match store.publish_form(&form, None, clock::now_ms()).await {
        Err(StoreError::Duplicate(_)) => bail!(
            "form {} version {} is already published; publish a new version instead of changing it",
            form.key,
            form.version
        ),
        other => other?,
    }
    println!(
        "published form {} version {} ({} fields)",
        form.key,
        form.version,
        form.fields.len()
    );
    Ok(())
}

pub(super) async fn retire(store: &Store, key: &str, version: u32) -> anyhow::Result<()> {
    if !store.retire_form(key, version, clock::now_ms()).await? {
        bail!("no form {key} version {version}");
    }
    println!(
        "retired form {key} version {version}: surveys captured on it from now on are refused"
    );
    Ok(())
}

pub(super) async fn list(store: &Store) -> anyhow::Result<()> {
    for f in store.forms().await? {
        let state = f.retired_at.map_or_else(
            || "in use".to_owned(),
            |at| format!("retired {}", local_time(at)),
        );
        println!(
            "{:<28} v{:<4} {:<20} published {}  {}",
            f.definition.key,
            f.definition.version,
            f.definition.title,
            local_time(f.published_at),
            state
        );
    }
    Ok(())
}
