//! Phone numbers as people write them («8 (916) 123-45-67», "+7 916 …",
//! WhatsApp's wa_id) folded to one E.164 form, so that one client's number
//! is one handle whichever channel or signature it came from. The base of
//! matching clients across channels (the client card).

/// The E.164 form (`+79161234567`) of a number as written, or None when it is
/// not a phone number. Numbers without a country code are read as Russian
/// (`default_country` "7"), as our users' clients write them.
pub fn e164(raw: &str, default_country: &str) -> Option<String> {
    let trimmed = raw.trim();
    let plus = trimmed.starts_with('+');
    let mut digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    if !trimmed.chars().all(|c| c.is_ascii_digit() || " +-().\u{a0}/".contains(c)) {
        return None;
    }
    if !plus && digits.starts_with("00") {
        digits.drain(..2);
    } else if !plus {
        digits = match (default_country, digits.len()) {
            // Russia: 8 and 10 digits is the domestic prefix; 10 digits alone is the number.
            ("7", 11) if digits.starts_with('8') => format!("7{}", &digits[1..]),
            ("7", 11) if digits.starts_with('7') => digits,
            ("7", 10) => format!("7{digits}"),
            (_, 11..=15) => digits,
            (cc, n) if (6..=10).contains(&n) => format!("{cc}{}", digits.trim_start_matches('0')),
            _ => return None,
        };
    }
    // Brazil: mobiles gained a ninth digit (9 after the area code); WhatsApp
    // still names many by the old eight: both are the same number.
    if digits.starts_with("55") && digits.len() == 12 && matches!(digits.as_bytes()[4], b'6'..=b'9') {
        digits.insert(4, '9');
    }
    // Mexico: the old mobile prefix 1 after 52 (WhatsApp's wa_id keeps it).
    if digits.starts_with("521") && digits.len() == 13 {
        digits.remove(2);
    }
    (8..=15).contains(&digits.len()).then(|| format!("+{digits}"))
}

#[cfg(test)]
mod tests {
    use super::e164;

    #[test]
    fn the_formats_clients_write_fold_to_one_number() {
        let same = "+79161234567";
        for raw in [
            "8 (916) 123-45-67",
            "8-916-123-45-67",
            "89161234567",
            "+7 916 123-45-67",
            "+7 (916) 123 45 67",
            "+79161234567",
            "79161234567",
            "7 916 123 45 67",
            "(916) 123-45-67",
            "916 123 45 67",
            "9161234567",
            "8 916 123 4567",
            "+7-916-123-45-67",
            "007 916 123 45 67",
            " +7 916 123-45-67 ",
            "+7.916.123.45.67",
        ] {
            assert_eq!(e164(raw, "7").as_deref(), Some(same), "{raw:?}");
        }
        // Moscow landline.
        assert_eq!(e164("8 (495) 123-45-67", "7").as_deref(), Some("+74951234567"));
        // Brazil with and without the ninth digit: one number.
        assert_eq!(e164("+55 11 98765-4321", "7").as_deref(), Some("+5511987654321"));
        assert_eq!(e164("551187654321", "7").as_deref(), Some("+5511987654321"));
        // A Brazilian landline (starts 2-5) gets no ninth digit.
        assert_eq!(e164("+55 11 3456-7890", "7").as_deref(), Some("+551134567890"));
        // Mexico with and without the old mobile 1.
        assert_eq!(e164("+52 1 55 1234 5678", "7").as_deref(), Some("+525512345678"));
        assert_eq!(e164("+52 55 1234 5678", "7").as_deref(), Some("+525512345678"));
        assert_eq!(e164("5215512345678", "7").as_deref(), Some("+525512345678"));
        // Not phone numbers.
        for raw in ["ИНН 7701234567x", "12-34", "", "+1234567890123456", "счёт 123"] {
            assert_eq!(e164(raw, "7"), None, "{raw:?}");
        }
    }
}
