//! Values written to log lines come from clients and IdPs: each is capped, so one request
//! cannot write a 64 KiB line.

use std::borrow::Cow;

/// The most bytes of one value a log line carries.
pub const MAX: usize = 256;

/// `text`, cut to at most [`MAX`] bytes on a character boundary (`…` marks the cut).
pub fn capped(text: &str) -> Cow<'_, str> {
    if text.len() <= MAX {
        return Cow::Borrowed(text);
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…", &text[..end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_on_a_character_boundary() {
        assert_eq!(capped("short"), "short");
        let long = "é".repeat(200);
        let cut = capped(&long);
        assert!(cut.len() <= MAX + "…".len(), "{}", cut.len());
        assert!(cut.ends_with('…'));
        assert_eq!(capped(&"a".repeat(MAX)).len(), MAX);
    }
}
