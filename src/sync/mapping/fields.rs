//! What ERPNext's fields can hold. Data, Link and Select fields are `varchar(140)`: a longer value
//! is refused (`CharacterLengthExceededError`) and the whole document with it. Address lines are
//! 240. Free text (notes, descriptions) goes into Text fields, which hold 64 KiB.

/// Characters a Data, Link or Select field holds.
pub const DATA_CHARS: usize = 140;
/// Characters of `Address.address_line1`/`address_line2`.
pub const ADDRESS_LINE_CHARS: usize = 240;
/// Bytes of a Small Text / Text field (MariaDB `TEXT`); kept well under.
pub const TEXT_BYTES: usize = 60_000;

/// `text` cut to `max` characters, the cut marked with `…`, so a long value still fits.
pub fn fit(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// `text` cut to at most `max` bytes on a character boundary, the cut marked with `…`.
pub fn fit_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// An identifying value (an email, a key) that must not be cut: kept only when it fits.
pub fn whole(text: &str, max: usize) -> Option<String> {
    (text.chars().count() <= max).then(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_to_the_limit_and_marked() {
        assert_eq!(fit("short", 140), "short");
        let long = "é".repeat(200);
        let cut = fit(&long, DATA_CHARS);
        assert_eq!(cut.chars().count(), DATA_CHARS);
        assert!(cut.ends_with('…'));
        let bytes = fit_bytes(&"ü".repeat(40_000), TEXT_BYTES);
        assert!(bytes.len() <= TEXT_BYTES && bytes.ends_with('…'));
        assert_eq!(whole("a@b.c", 140).as_deref(), Some("a@b.c"));
        assert_eq!(whole(&"a".repeat(141), 140), None);
    }
}
