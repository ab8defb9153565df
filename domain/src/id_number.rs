//! The GB 11643-1999 check character of a resident ID number.

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: [u8; 11] = *b"10X98765432";

/// The check character for the first 17 characters of an ID number, or `None` when they are
/// not 17 ASCII digits.
pub fn id_check_char(first17: &[u8]) -> Option<u8> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_test_vectors() {
        assert_eq!(id_check_char(b"11010519491231002"), Some(b'X'));
        assert_eq!(id_check_char(b"61010419620927690"), Some(b'8'));
    }

    #[test]
    fn rejects_non_digits_and_wrong_length() {
        assert_eq!(id_check_char(b"1101051949123100"), None);
        assert_eq!(id_check_char(b"1101051949123100A"), None);
    }
}
