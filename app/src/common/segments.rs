//! How many SMS parts a text costs: GSM 03.38 (7-bit, 160 characters in one part, 153 per
//! part once it is split) when every character is in the GSM alphabet, else UCS-2 (70 in
//! one part, 67 per part). Characters of the GSM extension table take two septets, and a
//! part never ends inside one (nor inside a UTF-16 surrogate pair), as handsets split them.
//! Pure and dependency-free: the template editor counts live in the browser with it.

use serde::{Deserialize, Serialize};

/// The GSM 03.38 basic character set (one septet each). The escape (0x1B) is left out: it
/// only introduces the extension table.
const BASIC: &str =
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// The extension table (two septets each: escape + character).
const EXTENSION: &str = "\u{0C}^{}\\[~]|€";

/// The encoding a text is sent in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

impl Encoding {
    pub fn label(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "GSM-7",
            Encoding::Ucs2 => "UCS-2 (Unicode)",
        }
    }
}

/// What a text costs: its encoding, its length in that encoding's units (septets or UTF-16
/// code units), the parts it is sent in, and the first character that forced UCS-2.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segments {
    pub encoding: Encoding,
    pub units: usize,
    pub parts: usize,
    /// The first character outside the GSM alphabet (why the text is UCS-2).
    pub unicode_because: Option<char>,
}

/// The septets a character takes in GSM-7, `None` outside the alphabet.
fn septets(c: char) -> Option<usize> {
    // ASCII first (most texts are mostly ASCII): all printable characters but the grave
    // accent are in the alphabet, nine of them in the extension table.
    if c.is_ascii() {
        return match c {
            '^' | '{' | '}' | '\\' | '[' | '~' | ']' | '|' | '\u{0C}' => Some(2),
            '`' => None,
            ' '..='~' | '\n' | '\r' => Some(1),
            _ => None,
        };
    }
    if BASIC.contains(c) {
        Some(1)
    } else if EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// Counts the parts of `text`.
pub fn count(text: &str) -> Segments {
    let unicode_because = text.chars().find(|&c| septets(c).is_none());
    // Each character's size in the encoding's units.
    let sizes: Vec<usize> = match unicode_because {
        None => text.chars().map(|c| septets(c).unwrap_or(1)).collect(),
        Some(_) => text.chars().map(char::len_utf16).collect(),
    };
    let (single, per_part) = match unicode_because {
        None => (160, 153),
        Some(_) => (70, 67),
    };
    let units: usize = sizes.iter().sum();
    let encoding = if unicode_because.is_some() { Encoding::Ucs2 } else { Encoding::Gsm7 };
    if units == 0 {
        return Segments { encoding, units, parts: 0, unicode_because };
    }
    if units <= single {
        return Segments { encoding, units, parts: 1, unicode_because };
    }
    // Fill each part greedily; a character that does not fit whole starts the next part.
    let (mut parts, mut used) = (1, 0);
    for size in sizes {
        if used + size > per_part {
            parts += 1;
            used = 0;
        }
        used += size;
    }
    Segments { encoding, units, parts, unicode_because }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_latin_text_is_gsm_and_splits_at_153() {
        assert_eq!(count("").parts, 0);
        let one = "a".repeat(160);
        assert_eq!(count(&one), Segments { encoding: Encoding::Gsm7, units: 160, parts: 1, unicode_because: None });
        assert_eq!(count(&"a".repeat(161)).parts, 2);
        assert_eq!(count(&"a".repeat(306)).parts, 2);
        assert_eq!(count(&"a".repeat(307)).parts, 3);
    }

    #[test]
    fn extension_characters_take_two_septets_and_are_never_split() {
        let s = count("€");
        assert_eq!((s.encoding, s.units), (Encoding::Gsm7, 2));
        assert_eq!(count(&"€".repeat(80)).parts, 1, "160 septets");
        assert_eq!(count(&"€".repeat(81)).parts, 2);
        // 152 septets then a 2-septet character: it does not fit in part one's last septet.
        let text = format!("{}{}{}", "a".repeat(152), "€", "a".repeat(152));
        assert_eq!(count(&text).units, 306);
        assert_eq!(count(&text).parts, 3);
    }

    #[test]
    fn one_character_outside_the_alphabet_makes_the_text_unicode() {
        let s = count("Danke für Ihren Einkauf ✓");
        assert_eq!(s.encoding, Encoding::Ucs2);
        assert_eq!(s.unicode_because, Some('✓'));
        assert_eq!(count("ü ä ö ß é").encoding, Encoding::Gsm7, "these are in the GSM alphabet");
        assert_eq!(count("ç").encoding, Encoding::Ucs2, "only the capital Ç is");
        assert_eq!(count(&"あ".repeat(70)).parts, 1);
        assert_eq!(count(&"あ".repeat(71)).parts, 2);
        // An emoji is a surrogate pair: two units, never split across parts. 134 units
        // would fit two parts of 67; with the pair moved whole to the second, it takes three.
        let text = format!("{}😀{}", "あ".repeat(66), "あ".repeat(66));
        assert_eq!((count(&text).units, count(&text).parts), (134, 3));
    }

    proptest! {
        #[test]
        fn parts_hold_the_text_and_no_part_is_wasted(text in "[a-z€ü😀あ ]{0,400}") {
            let s = count(&text);
            let (single, per) = if s.encoding == Encoding::Gsm7 { (160, 153) } else { (70, 67) };
            if s.units == 0 { prop_assert_eq!(s.parts, 0); }
            else if s.units <= single { prop_assert_eq!(s.parts, 1); }
            else {
                // At least the parts the units need, at most one more per part for a split
                // character pushed to the next part.
                prop_assert!(s.parts >= s.units.div_ceil(per));
                prop_assert!(s.parts <= s.units.div_ceil(per - 1));
            }
        }
    }
}
