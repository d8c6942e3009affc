//! The matching text of `pipelines.tag_match._map_bytes`, for texts that are ASCII once mapped.
//!
//! Nearly all wire copy is: curly quotes, dashes and NBSP become spaces like ASCII punctuation. For
//! those texts the mapping is one pass over the `str` buffer here instead of `encode`, `translate`
//! and two byte regexes in Python, and the byte offsets the automata report are character offsets.
//! Any other text (a letter outside ASCII) gets None and is mapped by Python.

use crate::pytext::Chars;

const NOT_ASCII: u8 = 0xff; // in MAPPED: a character that keeps the text from being ASCII once mapped

/// The byte a character below U+0100 becomes in the case-kept matching text: letters and digits
/// stay, ASCII punctuation and controls and Latin-1 punctuation (NBSP, «, », ·, the soft hyphen;
/// not ª µ º) become a space; any other Latin-1 letter is NOT_ASCII. A table: one load per character.
static MAPPED: [u8; 256] = {
    let mut table = [NOT_ASCII; 256];
    let mut c = 0;
    while c < 256 {
        table[c] = match c {
            0x30..=0x39 | 0x41..=0x5a | 0x61..=0x7a => c as u8,
            0..=0x7f | 0xa0..=0xa9 | 0xab..=0xb4 | 0xb6..=0xb9 | 0xbb..=0xbf => b' ',
            _ => NOT_ASCII,
        };
        c += 1;
    }
    table
};

/// `MAPPED` for any code point: above Latin-1 only General Punctuation (U+2000 - U+206F: spaces,
/// dashes, quotes, bullets) maps, to a space.
#[inline]
fn mapped_byte(c: u32) -> u8 {
    match c {
        0..=0xff => MAPPED[c as usize],
        0x2000..=0x206f => b' ',
        _ => NOT_ASCII,
    }
}

fn lowered_from<T: Copy + Into<u32>>(chars: &[T]) -> Option<Vec<u8>> {
    let mut low = vec![b' '; chars.len() + 2];
    let mut complete = true; // no early exit: almost every text is ASCII once mapped
    for (&c, out) in chars.iter().zip(&mut low[1..]) {
        let byte = mapped_byte(c.into());
        complete &= byte != NOT_ASCII;
        *out = byte.to_ascii_lowercase();
    }
    complete.then_some(low)
}

/// The case-kept bytes are `low`'s with the text's own letters where `low` has no space, so the
/// text is not mapped twice. Where `low` has a letter or digit the text must have it too, in either
/// case (`c | 0x20 == l` and `c >= 0x30` hold only then); a space of `low` is taken on trust, which
/// at worst loses hits (`low` is `Core.lowered(text)` unless the caller has a bug).
fn backwards_from<T: Copy + Into<u32>>(chars: &[T], low: &[u8]) -> Option<Vec<u8>> {
    let n = chars.len();
    if low.len() != n + 2 {
        return None;
    }
    let mut back = vec![b' '; n + 2];
    let mut same = true;
    for ((&c, &lower), out) in chars.iter().zip(&low[1..=n]).zip(back[1..=n].iter_mut().rev()) {
        let c: u32 = c.into();
        let word = lower != b' ';
        same &= !word || (c | 0x20 == lower as u32 && c >= 0x30);
        *out = if word { c as u8 } else { b' ' };
    }
    same.then_some(back)
}

/// `b" " + _map_bytes(text).lower() + b" "`: what the topic automaton and regexes read.
pub fn lowered(chars: Chars<'_>) -> Option<Vec<u8>> {
    match chars {
        Chars::One(s) => lowered_from(s),
        Chars::Two(s) => lowered_from(s),
        Chars::Four(s) => lowered_from(s),
    }
}

/// `(b" " + _map_bytes(text) + b" ")[::-1]`, the case-kept text the actor automaton reads
/// backwards, for a text whose `lowered` is `low`; None when `low` is not that (a caller's bug).
pub fn backwards(chars: Chars<'_>, low: &[u8]) -> Option<Vec<u8>> {
    match chars {
        Chars::One(s) => backwards_from(s, low),
        Chars::Two(s) => backwards_from(s, low),
        Chars::Four(s) => backwards_from(s, low),
    }
}

/// Both at once (`Core.map_ascii`, which the tests compare with `_map_bytes`).
pub fn map_ascii(chars: Chars<'_>) -> Option<(Vec<u8>, Vec<u8>)> {
    let low = lowered(chars)?;
    let back = backwards(chars, &low)?;
    Some((back, low))
}
