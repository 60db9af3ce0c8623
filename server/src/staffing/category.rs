//! A village's class and the team it requires (DOMAIN.md "Places"; the policy, l.1204–1222):
//!
//! | class | villages | team |
//! |---|---|---|
//! | A | the region's resettlement villages (移民安置村): a list an administrator keeps | a first secretary and at least 2 work team members |
//! | B | those of the five national key counties | the same |
//! | C | those of the four regional key counties and 永宁县, 沙坡头区, 中宁县 | a first secretary |
//! | D | the rest | as the county needs: never short |
//!
//! B and C come from the county (the village code's first six digits). The policy classes only
//! the out-of-poverty villages (脱贫村) of those counties as B or C; no code says which they are,
//! so an administrator may designate a village of a B or C county as D, as they designate the
//! resettlement villages as A.

/// The five national key counties for rural revitalisation: their villages are class B.
pub const NATIONAL_KEY_COUNTIES: [(&str, &str); 5] = [
    ("640402", "原州区"),
    ("640422", "西吉县"),
    ("640522", "海原县"),
    ("640324", "同心县"),
    ("640303", "红寺堡区"),
];

/// The four regional key counties, and the three with the heaviest resettlement work: their
/// villages are class C.
pub const REGIONAL_KEY_COUNTIES: [(&str, &str); 7] = [
    ("640323", "盐池县"),
    ("640423", "隆德县"),
    ("640424", "泾源县"),
    ("640425", "彭阳县"),
    ("640121", "永宁县"),
    ("640502", "沙坡头区"),
    ("640521", "中宁县"),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    A,
    B,
    C,
    D,
}

/// The resident team a village must have.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Need {
    pub first_secretaries: u32,
    pub members: u32,
}

impl Need {
    /// A village that can never be short (class D).
    pub fn is_none(self) -> bool {
        self == Need::default()
    }
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::A => "A",
            Category::B => "B",
            Category::C => "C",
            Category::D => "D",
        }
    }

    pub fn parse(text: &str) -> Option<Category> {
        match text.trim() {
            "A" | "a" => Some(Category::A),
            "B" | "b" => Some(Category::B),
            "C" | "c" => Some(Category::C),
            "D" | "d" => Some(Category::D),
            _ => None,
        }
    }

    /// The class a village's county gives it.
    pub fn of_county(village: &str) -> Category {
        let county = village.get(..6).unwrap_or_default();
        let listed = |list: &[(&str, &str)]| list.iter().any(|(code, _)| *code == county);
        if listed(&NATIONAL_KEY_COUNTIES) {
            Category::B
        } else if listed(&REGIONAL_KEY_COUNTIES) {
            Category::C
        } else {
            Category::D
        }
    }

    /// A village's class: an administrator's designation, else its county's.
    pub fn of_village(village: &str, designated: Option<Category>) -> Category {
        designated.unwrap_or_else(|| Category::of_county(village))
    }

    pub fn need(self) -> Need {
        match self {
            Category::A | Category::B => Need {
                first_secretaries: 1,
                members: 2,
            },
            Category::C => Need {
                first_secretaries: 1,
                members: 0,
            },
            Category::D => Need::default(),
        }
    }

    /// Whether an administrator may designate `village` as `self`: A (a resettlement village)
    /// anywhere; D only where the county would make it B or C (a village that is not one of
    /// the county's out-of-poverty villages). B and C are the county's to give. The reason
    /// when not.
    pub fn may_designate(self, village: &str) -> Result<(), String> {
        match (self, Category::of_county(village)) {
            (Category::A, _) | (Category::D, Category::B | Category::C) => Ok(()),
            (Category::D, _) => Err(format!(
                "{village} is in a county whose villages are class D already"
            )),
            (c, _) => Err(format!(
                "class {} comes from the county; an administrator designates A (a resettlement village) or D (not an out-of-poverty village of a B or C county)",
                c.as_str()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The county lists name real counties: a mistyped code fails here, not in a village.
    #[test]
    fn the_key_counties_are_the_built_in_lists_counties() {
        let all = crate::divisions::parse(crate::divisions::NINGXIA_CSV).unwrap();
        for (code, name) in NATIONAL_KEY_COUNTIES.iter().chain(&REGIONAL_KEY_COUNTIES) {
            let found = all.iter().find(|d| d.code == *code);
            assert!(
                found.is_some_and(|d| d.name == *name && d.level == "county"),
                "{code} {name}: {found:?}"
            );
        }
        let villages = |list: &[(&str, &str)]| {
            all.iter()
                .filter(|d| d.level == "village")
                .filter(|d| list.iter().any(|(c, _)| d.code.starts_with(c)))
                .count()
        };
        // The policy's 537 B and 396 C villages are the out-of-poverty villages among these.
        assert!(villages(&NATIONAL_KEY_COUNTIES) >= 537);
        assert!(villages(&REGIONAL_KEY_COUNTIES) >= 396);
    }

    #[test]
    fn a_village_takes_its_countys_class_unless_designated() {
        assert_eq!(Category::of_village("640402001001", None), Category::B);
        assert_eq!(Category::of_village("640121001001", None), Category::C);
        assert_eq!(Category::of_village("640104001002", None), Category::D);
        assert_eq!(
            Category::of_village("640104001002", Some(Category::A)),
            Category::A
        );
        assert_eq!(
            Category::of_village("640402001001", Some(Category::D)),
            Category::D
        );
        assert_eq!(Category::B.need(), Category::A.need());
        assert_eq!(Category::C.need().members, 0);
        assert!(Category::D.need().is_none());
    }

    #[test]
    fn an_administrator_designates_a_anywhere_and_d_in_key_counties_only() {
        assert!(Category::A.may_designate("640104001002").is_ok());
        assert!(Category::D.may_designate("640402001001").is_ok());
        assert!(Category::D.may_designate("640121001001").is_ok());
        assert!(Category::D.may_designate("640104001002").is_err());
        assert!(Category::B.may_designate("640104001002").is_err());
        assert!(Category::C.may_designate("640402001001").is_err());
    }
}
