//! Resident ID-card numbers (居民身份证号码, GB 11643-1999): 6 digits of region, 8 of birth
//! date, 3 of sequence (odd for men), and a check digit (ISO 7064 MOD 11-2, `X` for 10).

use time::{Date, Month};

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: [u8; 11] = *b"10X98765432";

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdCardError {
    #[error("an ID-card number has 18 characters: 17 digits and a digit or X")]
    Shape,
    #[error("the birth date inside the ID-card number is not a real date")]
    BirthDate,
    #[error("the check digit of the ID-card number does not match; a digit was mistyped")]
    CheckDigit,
}

/// The check character for the first 17 digits.
pub fn check_char(first17: &[u8]) -> Option<u8> {
    if first17.len() != 17 || !first17.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    Some(CHECK[(sum % 11) as usize])
}

/// Validates shape, birth date and check digit. A lower-case `x` is accepted (phones' numeric
/// keyboards produce it); [`normalize`] upper-cases it.
pub fn validate(s: &str) -> Result<(), IdCardError> {
    let b = s.as_bytes();
    if b.len() != 18 {
        return Err(IdCardError::Shape);
    }
    let last = b[17].to_ascii_uppercase();
    if !(last.is_ascii_digit() || last == b'X') {
        return Err(IdCardError::Shape);
    }
    let expected = check_char(&b[..17]).ok_or(IdCardError::Shape)?;
    birth_date(&s[6..14]).ok_or(IdCardError::BirthDate)?;
    if expected != last {
        return Err(IdCardError::CheckDigit);
    }
    Ok(())
}

pub fn normalize(s: &str) -> String {
    s.to_ascii_uppercase()
}

/// The birth date of a number's digits 7–14 (`YYYYMMDD`), if they are a real date.
pub fn birth_date(yyyymmdd: &str) -> Option<Date> {
    let year: i32 = yyyymmdd.get(0..4)?.parse().ok()?;
    let month: u8 = yyyymmdd.get(4..6)?.parse().ok()?;
    let day: u8 = yyyymmdd.get(6..8)?.parse().ok()?;
    if !(1900..=2100).contains(&year) {
        return None;
    }
    Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
}

/// A valid number from its first 17 digits (their check character appended), for tests and
/// benchmarks anywhere in the workspace; `None` unless they are 17 digits.
pub fn with_check(first17: &str) -> Option<String> {
    let c = check_char(first17.as_bytes())?;
    Some(format!("{first17}{}", c as char))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_example_is_valid() {
        // The worked example of GB 11643-1999, appendix.
        assert_eq!(validate("11010519491231002X"), Ok(()));
        assert_eq!(validate("11010519491231002x"), Ok(()));
    }

    #[test]
    fn a_mistyped_digit_is_caught() {
        assert_eq!(validate("11010519491231003X"), Err(IdCardError::CheckDigit));
        let good = with_check("64042219850612031").unwrap();
        assert_eq!(validate(&good), Ok(()));
        let mut bad = good.into_bytes();
        bad[3] = if bad[3] == b'9' { b'0' } else { bad[3] + 1 };
        let bad = String::from_utf8(bad).unwrap();
        assert_eq!(validate(&bad), Err(IdCardError::CheckDigit));
    }

    #[test]
    fn shape_and_date_are_checked() {
        assert_eq!(validate("1101051949123100"), Err(IdCardError::Shape));
        assert_eq!(validate("1101051949123100AX"), Err(IdCardError::Shape));
        assert_eq!(
            validate(&with_check("64042219850230031").unwrap()),
            Err(IdCardError::BirthDate)
        );
    }
}
