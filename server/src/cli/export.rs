//! `admin export-households`: the household export of `GET /v1/export/households.*`, run at
//! the server's console for a whole division (a county officer's monthly report, a handover),
//! with what a given role would see.
//!
//! The file is written next to its destination under a temporary name (mode 0600: it holds
//! personal data) and renamed into place only when complete, so a failed run leaves no
//! half-written export that looks whole. Each household goes into the audit log as read from
//! the console (user `00000000-0000-0000-0000-000000000000`), like any other export.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use fieldsync_protocol::Role;
use fieldsync_protocol::registry::HOUSEHOLD;

use super::progress::Progress;
use crate::access::{self, Action};
use crate::export::{self, CONSOLE, Format, Households, Reader};
use crate::store::Store;

/// Who reads an export made at the server's console, for the audit log.
const AT_CONSOLE: Reader = Reader {
    user_id: CONSOLE,
    device_id: None,
};

/// Which households to export, and where: what `export-households` and `export-roster` share.
#[derive(clap::Args)]
pub(super) struct Destination {
    /// Division code (village, township, county …): the villages below it are exported.
    #[arg(long, value_name = "CODE")]
    division: String,
    /// csv or xlsx.
    #[arg(long)]
    format: Format,
    /// The file to write (replaced if it exists).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

impl Destination {
    async fn villages(&self, store: &Store) -> anyhow::Result<Vec<String>> {
        let villages = store.villages_under(&self.division).await?;
        if villages.is_empty() {
            bail!("no villages below division {:?}", self.division);
        }
        Ok(villages)
    }
}

pub(super) async fn export_households(
    store: &Store,
    to: &Destination,
    role: Role,
) -> anyhow::Result<()> {
    if !access::allowed(role, HOUSEHOLD.name, Action::Read) {
        bail!(
            "the role {} does not read households, so it cannot export them",
            role.as_str()
        );
    }
    let villages = to.villages(store).await?;
    let mut households = Households::open(store.clone(), villages, role, AT_CONSOLE).await?;
    // The count first, so the bar has its end.
    let total = usize::try_from(households.count().await?).unwrap_or(usize::MAX);
    let mut progress = Progress::new("households", total);

    let tmp = beside(&to.out)?;
    let done = |d: u64| usize::try_from(d).unwrap_or(usize::MAX);
    let (written, tmp, progress) = match to.format {
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
    put_in_place(tmp, &to.out)?;
    println!(
        "{written} households written to {} (as {} sees them)",
        to.out.display(),
        role.as_str()
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
pub(super) async fn export_roster(store: &Store, to: &Destination) -> anyhow::Result<()> {
    let villages = to.villages(store).await?;
    let tmp = beside(&to.out)?;
    let mut writer = BufWriter::new(tmp.as_file());
    let written =
        export::roster::write(store, &villages, AT_CONSOLE, to.format, &mut writer).await?;
    writer.flush()?;
    drop(writer);
    put_in_place(tmp, &to.out)?;
    println!(
        "{written} households with their people written to {} (the layout admin import-roster reads)",
        to.out.display()
    );
    Ok(())
}
