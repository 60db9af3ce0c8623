//! `admin export-households`: the household export of `GET /v1/export/households.*`, run at
//! the server's console for a whole division (a county officer's monthly report, a handover),
//! with what a given role would see.
//!
//! The file is written next to its destination under a temporary name (mode 0600: it holds
//! personal data) and renamed into place only when complete, so a failed run leaves no
//! half-written export that looks whole. Each household goes into the audit log as read from
//! the console (user `00000000-0000-0000-0000-000000000000`), like any other export.

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, bail};
use fieldsync_protocol::Role;
use fieldsync_protocol::registry::HOUSEHOLD;

use super::progress::Progress;
use crate::access::{self, Action};
use crate::export::{self, CONSOLE, Format, Households, Reader};
use crate::store::Store;

/// What `admin export-households` was asked for.
pub(super) struct Request<'a> {
    pub(super) division: &'a str,
    pub(super) format: Format,
    pub(super) out: &'a Path,
    pub(super) role: Role,
}

pub(super) async fn export_households(store: &Store, req: Request<'_>) -> anyhow::Result<()> {
    if !access::allowed(req.role, HOUSEHOLD.name, Action::Read) {
        bail!(
            "the role {} does not read households, so it cannot export them",
            req.role.as_str()
        );
    }
    let villages = store.villages_under(req.division).await?;
    if villages.is_empty() {
        bail!("no villages below division {:?}", req.division);
    }
    let reader = Reader {
        user_id: CONSOLE,
        device_id: None,
    };
    let mut households = Households::open(store.clone(), villages, req.role, reader).await?;
    // The count first, so the bar has its end.
    let total = usize::try_from(households.count().await?).unwrap_or(usize::MAX);
    let mut progress = Progress::new("households", total);

    let tmp = beside(req.out)?;
    let done = |d: u64| usize::try_from(d).unwrap_or(usize::MAX);
    let (written, tmp, progress) = match req.format {
        Format::Csv => {
            let mut out = BufWriter::new(tmp.as_file());
            let n =
                export::write_csv(&mut households, &mut out, |d| progress.update(done(d))).await?;
            out.flush()?;
            drop(out);
            (n, tmp, progress)
        }
        Format::Xlsx => {
            let runtime = tokio::runtime::Handle::current();
            tokio::task::spawn_blocking(move || {
                export::write_xlsx(&mut households, &runtime, tmp.as_file(), |d| {
                    progress.update(done(d));
                })
                .map(|n| (n, tmp, progress))
            })
            .await??
        }
    };
    progress.finish();
    put_in_place(tmp, req.out)?;
    println!(
        "{written} households written to {} (as {} sees them)",
        req.out.display(),
        req.role.as_str()
    );
    Ok(())
}

/// A temporary file in the destination's directory (mode 0600), to be put in place whole.
fn beside(out: &Path) -> anyhow::Result<tempfile::NamedTempFile> {
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))
}

fn put_in_place(tmp: tempfile::NamedTempFile, out: &Path) -> anyhow::Result<()> {
    tmp.as_file().sync_all()?;
    tmp.persist(out)
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(())
}

/// `admin export-roster`: households and people in the layout `admin import-roster` reads.
pub(super) async fn export_roster(
    store: &Store,
    division: &str,
    format: Format,
    out: &Path,
) -> anyhow::Result<()> {
    let villages = store.villages_under(division).await?;
    if villages.is_empty() {
        bail!("no villages below division {division:?}");
    }
    let reader = Reader {
        user_id: CONSOLE,
        device_id: None,
    };
    let tmp = beside(out)?;
    let mut writer = BufWriter::new(tmp.as_file());
    let written = export::roster::write(store, &villages, reader, format, &mut writer).await?;
    writer.flush()?;
    drop(writer);
    put_in_place(tmp, out)?;
    println!(
        "{written} households with their people written to {} (the layout admin import-roster reads)",
        out.display()
    );
    Ok(())
}
