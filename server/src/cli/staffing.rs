//! `admin staffing` and `admin set-village-category`: the console's village teams page at the
//! server's console. The shortfall list is `service::staffing`'s; a designation is audited as
//! made at the server's console (the nil user, as `export-households` reads are).

use anyhow::bail;
use time::Date;

use crate::clock;
use crate::service::staffing::{self as ops, Designator};
use crate::staffing::Category;
use crate::store::Store;

/// The villages below `division` whose team falls short on `on` (today by default) or on a
/// later day it changes; with `all`, every village with its team.
pub(super) async fn staffing(
    store: &Store,
    division: &str,
    on: Option<Date>,
    all: bool,
) -> anyhow::Result<()> {
    if store.division(division).await?.is_none() {
        bail!("{division} is not a known division code");
    }
    let on = on.unwrap_or_else(clock::today);
    let report = ops::report_of(store, division, on).await?;
    let short = report.shortfalls();
    let now = report
        .villages
        .iter()
        .filter(|v| v.gaps.first().is_some_and(|g| g.from == on))
        .count();
    println!(
        "{} ({}) on {}: {} villages, {now} short on the day, {} short after a planned change",
        report.division.name,
        report.division.code,
        clock::iso(on),
        report.villages.len(),
        report
            .villages
            .iter()
            .filter(|v| !v.gaps.is_empty())
            .count()
            - now,
    );
    if short.is_empty() {
        println!("no village is short of its team");
    }
    for (v, gap) in &short {
        let until = gap.until.map_or_else(|| "open".to_owned(), clock::iso);
        let leaving = if gap.leaving.is_empty() {
            String::new()
        } else {
            format!(" (after {} left)", gap.leaving.join(", "))
        };
        println!(
            "{}  {}  {} .. {until:<10}  {}{leaving}  {}",
            v.code,
            v.category.as_str(),
            clock::iso(gap.from),
            gap.describe(),
            v.name
        );
    }
    if all {
        println!();
        for v in &report.villages {
            let need = v.category.need();
            println!(
                "{}  {}{}  first secretaries {}/{}  team members {}/{}  {}",
                v.code,
                v.category.as_str(),
                if v.designated { "*" } else { " " },
                v.staff.first_secretaries,
                need.first_secretaries,
                v.staff.members,
                need.members,
                v.name
            );
        }
        println!("(* designated by an administrator; the others take their county's class)");
    }
    Ok(())
}

/// `A` (a resettlement village), `D` (not an out-of-poverty village of a B or C county) or
/// `none` (the county's class again).
pub(super) async fn set_village_category(
    store: &Store,
    village: &str,
    category: &str,
) -> anyhow::Result<()> {
    let category = match category.trim() {
        "none" => None,
        text => match Category::parse(text) {
            Some(c) => Some(c),
            None => bail!("{text:?} is not a class: give A, D or none"),
        },
    };
    let by = Designator {
        user_id: crate::export::CONSOLE,
        device_id: None,
    };
    let done = ops::set_category(store, by, village, category).await?;
    let need = match done.category.need() {
        n if n.is_none() => "as many cadres as the county decides".to_owned(),
        n if n.members == 0 => "a first secretary".to_owned(),
        n => format!("a first secretary and at least {} team members", n.members),
    };
    let whose = if category.is_some() {
        "designated"
    } else {
        "its county's"
    };
    if done.changed {
        println!(
            "{} {} is class {} ({whose}): it needs {need}",
            done.village,
            done.name,
            done.category.as_str()
        );
    } else {
        println!(
            "{} {} was class {} ({whose}) already; nothing changed",
            done.village,
            done.name,
            done.category.as_str()
        );
    }
    Ok(())
}
