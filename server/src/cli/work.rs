//! `admin task-rules` and `admin escalate-tasks`: a county's own rules for follow-up tasks,
//! and escalating overdue tasks on demand.

use std::path::Path;

use anyhow::{Context, bail};

use crate::cases::{escalate, rules};
use crate::clock;
use crate::store::Store;

/// A county code: six digits, not a city or the province.
fn county(code: &str) -> anyhow::Result<&str> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) || code.ends_with("00") {
        bail!("{code:?} is not a county code (six digits, such as 640522)");
    }
    Ok(code)
}

pub(super) async fn show(store: &Store, code: Option<&str>) -> anyhow::Result<()> {
    let own = match code {
        Some(c) => store.task_rules_of(county(c)?).await?,
        None => None,
    };
    match (code, own) {
        (Some(c), Some(text)) => {
            eprintln!("county {c} uses its own rules:");
            println!("{text}");
        }
        (Some(c), None) => {
            eprintln!("county {c} uses the built-in rules:");
            println!("{}", rules::DEFAULT_TEXT.trim_end());
        }
        (None, _) => println!("{}", rules::DEFAULT_TEXT.trim_end()),
    }
    Ok(())
}

pub(super) async fn set(store: &Store, code: &str, file: &Path) -> anyhow::Result<()> {
    let code = county(code)?;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let parsed = rules::parse(&text).with_context(|| format!("{}", file.display()))?;
    store
        .set_task_rules(code, &text, "admin", clock::now_ms())
        .await?;
    println!(
        "county {code} now makes tasks by {} rules from {} (from the next push on)",
        parsed.len(),
        file.display()
    );
    Ok(())
}

pub(super) async fn reset(store: &Store, code: &str) -> anyhow::Result<()> {
    let code = county(code)?;
    if store.clear_task_rules(code).await? {
        println!("county {code} uses the built-in rules again");
    } else {
        println!("county {code} had no rules of its own");
    }
    Ok(())
}

pub(super) async fn escalate_now(store: &Store) -> anyhow::Result<()> {
    let done = escalate::escalate(store, clock::now_ms()).await?;
    println!(
        "escalated {} overdue tasks ({} in villages without a township supervisor)",
        done.tasks, done.without_leader
    );
    Ok(())
}
