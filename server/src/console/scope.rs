//! What a viewer oversees, with names: the divisions they are assigned to today, the villages
//! below them (the same set every API list is limited to), and the names of both.

use std::collections::{BTreeSet, HashMap};

use maud::{Markup, html};
use uuid::Uuid;

use axum::response::{IntoResponse, Response};

use super::error::ConsoleError;
use super::i18n::Lang;
use super::layout::{self, Nav};
use super::session::Viewer;
use crate::clock;
use crate::state::AppState;
use crate::store::Person;

pub struct Scope {
    /// The viewer's assignments (a village, a township, a county…), by code.
    pub divisions: Vec<String>,
    pub villages: BTreeSet<String>,
    names: HashMap<String, String>,
}

impl Scope {
    pub async fn of(state: &AppState, v: &Viewer) -> Result<Scope, ConsoleError> {
        let today = clock::iso(clock::today());
        let store = state.store();
        let divisions = store.user_assignments(v.caller.user_id, &today).await?;
        let villages: BTreeSet<String> = store
            .user_villages(v.caller.user_id, &today)
            .await?
            .into_iter()
            .collect();
        let mut names = HashMap::new();
        for d in &divisions {
            names.extend(store.division_names_under(d).await?);
        }
        Ok(Scope {
            divisions,
            villages,
            names,
        })
    }

    /// A division's name, or its code when it has none.
    pub fn name<'a>(&'a self, code: &'a str) -> &'a str {
        self.names.get(code).map_or(code, String::as_str)
    }

    /// The divisions a division filter offers: the assignments, then every township and
    /// village below them.
    pub fn division_choices(&self) -> Vec<String> {
        let mut out: Vec<String> = self.divisions.clone();
        let mut townships: BTreeSet<String> = BTreeSet::new();
        for v in &self.villages {
            if let Some(t) = v.get(..9) {
                townships.insert(t.to_owned());
            }
        }
        out.extend(
            townships
                .into_iter()
                .filter(|t| !self.divisions.contains(t)),
        );
        out
    }

    /// The division a page shows: the one asked for, else the first assignment.
    pub fn division(&self, asked: Option<&str>) -> Option<String> {
        asked
            .filter(|d| !d.is_empty())
            .or_else(|| self.divisions.first().map(String::as_str))
            .map(str::to_owned)
    }

    /// Whether `code` is one of the viewer's divisions or below one.
    pub fn covers(&self, code: &str) -> bool {
        self.division_choices().iter().any(|d| d == code)
            || self.villages.contains(code)
            || self
                .villages
                .iter()
                .any(|v| v.starts_with(code) && code.len() >= 6)
    }

    /// `<option>`s of the villages, `selected` marked.
    pub fn village_options(&self, selected: Option<&str>) -> Markup {
        html! {
            @for v in &self.villages {
                option value=(v) selected[selected == Some(v.as_str())] { (self.name(v)) " (" (v) ")" }
            }
        }
    }

    /// `<option>`s of the division choices, `selected` marked.
    pub fn division_options(&self, selected: &str) -> Markup {
        html! {
            @for d in self.division_choices() {
                option value=(d) selected[selected == d] { (self.name(&d)) " (" (d) ")" }
            }
        }
    }
}

/// The people of the viewer's divisions by id, with the divisions each is assigned to.
pub type People = HashMap<Uuid, (Person, Vec<String>)>;

/// A person's name, or "someone else" for one outside the viewer's divisions.
pub fn name_of(l: Lang, people: &People, id: Uuid) -> String {
    people.get(&id).map_or_else(
        || l.t("其他人", "someone else").to_owned(),
        |p| p.0.name().to_owned(),
    )
}

/// The page of a section that needs a division, for a viewer assigned to none today.
pub fn unassigned(v: &Viewer, nav: Nav, title: &str, uri: &axum::http::Uri) -> Response {
    let l = v.lang;
    layout::page(
        v,
        nav,
        title,
        &super::here(uri),
        html! { p.muted { (l.t("您目前没有分配的乡镇或村", "You are not assigned to any division today")) } },
    )
    .into_response()
}

/// The people assigned in the viewer's divisions, by id.
pub async fn people(state: &AppState, scope: &Scope) -> Result<People, ConsoleError> {
    let today = clock::iso(clock::today());
    let mut out: People = HashMap::new();
    for d in &scope.divisions {
        for (p, division) in state.store().people_under(d, &today).await? {
            out.entry(p.id)
                .or_insert_with(|| (p, Vec::new()))
                .1
                .push(division);
        }
    }
    Ok(out)
}
