//! `openrosa-forms`: writes every XForm the server serves to ODK Collect (the registry's forms
//! and the survey versions in use in the configured database) into a directory, for ODK
//! Validate (`mobile-contract/odk-validate DIR`) and for reading.

use std::path::Path;

use anyhow::Context;

use crate::openrosa::xform;
use crate::store::Store;

pub(super) async fn write_forms(store: &Store, out: &Path) -> anyhow::Result<()> {
    let surveys: Vec<_> = store
        .forms()
        .await?
        .into_iter()
        .filter(|f| f.retired_at.is_none())
        .map(|f| f.definition)
        .collect();
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let forms = xform::all_forms(&surveys);
    for f in &forms {
        let path = out.join(format!("{}-{}.xml", f.form_id, f.version));
        std::fs::write(&path, &f.xml)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("{}  {}  {}", f.hash(), path.display(), f.title);
    }
    println!(
        "{} forms written to {} ({} survey versions in use)",
        forms.len(),
        out.display(),
        surveys.len()
    );
    Ok(())
}
