//! `admin task-rules` and `admin escalate-tasks`: a county's own rules for follow-up tasks,
//! and escalating overdue tasks on demand; `admin jobs` and `admin run-job`: the periodic jobs
//! the servers share.

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

pub(super) async fn jobs(store: &Store) -> anyhow::Result<()> {
    let now = clock::now_ms();
    println!(
        "{:<16} {:>8} {:>6} {:>8}  {:<21} {:<19} {:<20} last error",
        "job", "every", "runs", "failures", "last finished (UTC+8)", "next due (UTC+8)", "held by"
    );
    for j in store.jobs().await? {
        let held = match (&j.locked_by, j.locked_until) {
            (Some(node), Some(until)) if until >= now => node.as_str(),
            _ => "-",
        };
        println!(
            "{:<16} {:>7}s {:>6} {:>8}  {:<21} {:<19} {:<20} {}",
            j.name,
            j.every_ms / 1000,
            j.runs,
            j.failures,
            j.last_finished_at.map_or("-".to_owned(), super::local_time),
            if j.is_due(now) {
                "now".to_owned()
            } else {
                super::local_time(j.next_run_at)
            },
            held,
            j.last_error.as_deref().unwrap_or("-"),
        );
    }
    Ok(())
}

pub(super) async fn run_job(store: &Store, name: &str) -> anyhow::Result<()> {
    if !store.make_job_due(name, clock::now_ms()).await? {
        let known: Vec<String> = store.jobs().await?.into_iter().map(|j| j.name).collect();
        if known.is_empty() {
            bail!(
                "no job {name:?}: no server has registered its jobs yet (it does when it starts)"
            );
        }
        bail!("no job {name:?}; the jobs are: {}", known.join(", "));
    }
    let now = clock::now_ms();
    match store.jobs().await?.into_iter().find(|j| j.name == name) {
        Some(j) if j.locked_until.is_some_and(|t| t >= now) => println!(
            "{name} is due, but {} holds it until {} (UTC+8): a server runs it once that lease ends",
            j.locked_by.as_deref().unwrap_or("a server"),
            super::local_time(j.locked_until.unwrap_or(now))
        ),
        _ => println!("{name} is due now; a running server takes it up within 15 s"),
    }
    Ok(())
}
