//! Lower-case hex, the form hashes take in names, keys and logs.

use std::fmt::Write;

pub fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            // Writing to a String cannot fail.
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn lower_case_two_digits_a_byte() {
        assert_eq!(super::hex(&[0x00, 0xab, 0x7f]), "00ab7f");
    }
}
