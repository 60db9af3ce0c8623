//! Which village a row of an office's file names: a 12-digit code, or a township and village
//! name as people write them ("红旗村" for the division list's "红旗村委会"). A name that fits no
//! village, or more than one, is the row's fault, said in words the clerk can act on.

use std::collections::{BTreeSet, HashMap};

use crate::sheets::Village;
use crate::store::Division;

/// The villages an import may write to, by code and by name.
pub struct Places {
    /// Village code → its township's code.
    villages: HashMap<String, Option<String>>,
    /// Township code → its name's key.
    townships: HashMap<String, String>,
    /// A village name's key → the villages bearing it.
    by_name: HashMap<String, Vec<String>>,
    /// The county (or other division) the import is limited to, for the messages.
    within: Option<String>,
}

/// Ends of village names that people leave off or add: the division list says "红旗村委会",
/// a spreadsheet "红旗村" or "红旗".
const VILLAGE_ENDS: [&str; 7] = [
    "村民委员会",
    "居民委员会",
    "村委会",
    "居委会",
    "委员会",
    "社区",
    "村",
];
const TOWNSHIP_ENDS: [&str; 5] = ["街道办事处", "街道办", "街道", "镇", "乡"];

fn key(name: &str, ends: &[&str]) -> String {
    let mut k: String = name.chars().filter(|c| !c.is_whitespace()).collect();
    // Repeatedly: "崇安社区居委会" and "崇安社区" both come to "崇安".
    while let Some(stem) = ends
        .iter()
        .find_map(|end| k.strip_suffix(end).filter(|s| !s.is_empty()))
    {
        k = stem.to_owned();
    }
    k
}

impl Places {
    /// From the divisions below the import's limit (all of them without one).
    pub fn new(divisions: &[Division], within: Option<&str>) -> Places {
        let mut places = Places {
            villages: HashMap::new(),
            townships: HashMap::new(),
            by_name: HashMap::new(),
            within: within.map(str::to_owned),
        };
        for d in divisions {
            match d.level.as_str() {
                "village" => {
                    places
                        .villages
                        .insert(d.code.clone(), d.parent_code.clone());
                    places
                        .by_name
                        .entry(key(&d.name, &VILLAGE_ENDS))
                        .or_default()
                        .push(d.code.clone());
                }
                "township" => {
                    places
                        .townships
                        .insert(d.code.clone(), key(&d.name, &TOWNSHIP_ENDS));
                }
                _ => {}
            }
        }
        places
    }

    /// The village's code, or why the row names none.
    pub fn resolve(&self, village: &Village) -> Result<String, String> {
        match village {
            Village::Code(code) if self.villages.contains_key(code) => Ok(code.clone()),
            Village::Code(code) => Err(match &self.within {
                Some(w) => format!("village code {code} is not a village of {w}"),
                None => format!("village code {code} is not in the division list"),
            }),
            Village::Named { township, village } => {
                let found = self
                    .by_name
                    .get(&key(village, &VILLAGE_ENDS))
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                let wanted = township.as_deref().map(|t| key(t, &TOWNSHIP_ENDS));
                let matching: BTreeSet<&String> = found
                    .iter()
                    .filter(|code| match &wanted {
                        Some(t) => self
                            .villages
                            .get(*code)
                            .and_then(|p| p.as_ref())
                            .and_then(|p| self.townships.get(p))
                            .is_some_and(|name| name == t),
                        None => true,
                    })
                    .collect();
                let place = match township {
                    Some(t) => format!("{t} {village}"),
                    None => village.clone(),
                };
                match matching.len() {
                    1 => Ok(matching.into_iter().next().cloned().unwrap_or_default()),
                    0 => Err(match &self.within {
                        Some(w) => format!("no village named {place} in {w}"),
                        None => format!("no village named {place} in the division list"),
                    }),
                    n => Err(format!(
                        "{n} villages are named {place}; give the township (乡镇) or the 12-digit village code"
                    )),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn division(code: &str, name: &str, level: &str, parent: Option<&str>) -> Division {
        Division {
            code: code.into(),
            name: name.into(),
            level: level.into(),
            parent_code: parent.map(Into::into),
        }
    }

    fn places() -> Places {
        Places::new(
            &[
                division("640522", "海原县", "county", None),
                division("640522100", "海城镇", "township", Some("640522")),
                division("640522101", "李旺镇", "township", Some("640522")),
                division("640522100201", "红旗村委会", "village", Some("640522100")),
                division("640522101201", "红旗村委会", "village", Some("640522101")),
                division("640522101202", "团结村委会", "village", Some("640522101")),
                division(
                    "640522101203",
                    "崇安社区居委会",
                    "village",
                    Some("640522101"),
                ),
            ],
            Some("640522"),
        )
    }

    fn named(township: Option<&str>, village: &str) -> Village {
        Village::Named {
            township: township.map(Into::into),
            village: village.into(),
        }
    }

    #[test]
    fn names_are_matched_as_people_write_them() {
        let p = places();
        assert_eq!(
            p.resolve(&named(None, "团结村")).as_deref(),
            Ok("640522101202")
        );
        assert_eq!(
            p.resolve(&named(None, "团结")).as_deref(),
            Ok("640522101202")
        );
        assert_eq!(
            p.resolve(&named(None, "崇安社区")).as_deref(),
            Ok("640522101203")
        );
        assert_eq!(
            p.resolve(&named(Some("李旺"), "红旗村")).as_deref(),
            Ok("640522101201")
        );
        assert_eq!(
            p.resolve(&named(Some("海城镇"), "红旗村委会")).as_deref(),
            Ok("640522100201")
        );
    }

    #[test]
    fn an_ambiguous_or_unknown_name_is_refused_with_advice() {
        let p = places();
        let e = p.resolve(&named(None, "红旗村")).unwrap_err();
        assert!(e.contains("2 villages") && e.contains("乡镇"), "{e}");
        let e = p.resolve(&named(Some("海城镇"), "团结村")).unwrap_err();
        assert!(
            e.contains("no village named 海城镇 团结村 in 640522"),
            "{e}"
        );
        let e = p
            .resolve(&Village::Code("640104001002".into()))
            .unwrap_err();
        assert!(e.contains("not a village of 640522"), "{e}");
        assert_eq!(
            p.resolve(&Village::Code("640522101202".into())).as_deref(),
            Ok("640522101202")
        );
    }
}
