//! The matching text of `pipelines.tag_match._map_bytes`: one pass over the `str` buffer here
//! instead of `encode`, `translate` and two byte regexes in Python.
//!
//! Most wire copy is ASCII once mapped (curly quotes, dashes and NBSP become spaces like ASCII
//! punctuation, Latin letters with diacritics their base letter); its automata search bytes, whose
//! offsets are character offsets. Any other text (a letter such as Путин, 김정은 or Æ) is searched
//! as UTF-8 (`general`), and its hits are turned back into characters.

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

/// `pipelines.tag_match.LATIN_FOLDS`: U+00C0 - U+017F folded to their base letter, `-` kept.
const LATIN_FOLDS: &[u8; 192] = b"AAAAAA-CEEEEIIIIDNOOOOO-OUUUUY--aaaaaa-ceeeeiiiidnooooo-ouuuuy-y\
AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIi--JjKk-LlLlLl--\
LlNnNnNn---OoOoOo--RrRrRrSsSsSsSsTtTtTtUuUuUuUuUuUuWwYyYZzZzZz-";

/// `MAPPED` for any code point: Latin letters with diacritics (U+00C0 - U+017F) fold to their base
/// letter, and above Latin Extended-A only General Punctuation (U+2000 - U+206F: spaces, dashes,
/// quotes, bullets) maps, to a space.
#[inline]
fn mapped_byte(c: u32) -> u8 {
    match c {
        0xc0..=0x17f => match LATIN_FOLDS[c as usize - 0xc0] {
            b'-' => NOT_ASCII,
            base => base,
        },
        0..=0xbf => MAPPED[c as usize],
        0x2000..=0x206f => b' ',
        _ => NOT_ASCII,
    }
}

/// The case-kept byte of a text's character where its matching text has the letter or digit
/// `lower` (the character itself, or a Latin letter folded); None when they disagree.
#[inline]
fn case_kept(c: u32, lower: u8) -> Option<u8> {
    let kept = mapped_byte(c);
    (kept != NOT_ASCII && kept != b' ' && kept.to_ascii_lowercase() == lower).then_some(kept)
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

/// The case-kept bytes are `low`'s with the text's own letters (folded) where `low` has no space.
/// Where `low` has a letter or digit the text must have it too, in either case; a space of `low` is
/// taken on trust, which at worst loses hits (`low` is `Core.lowered(text)` unless the caller has a
/// bug).
fn backwards_from<T: Copy + Into<u32>>(chars: &[T], low: &[u8]) -> Option<Vec<u8>> {
    let n = chars.len();
    if low.len() != n + 2 {
        return None;
    }
    let mut back = vec![b' '; n + 2];
    let mut same = true;
    for ((&c, &lower), out) in chars.iter().zip(&low[1..=n]).zip(back[1..=n].iter_mut().rev()) {
        if lower != b' ' {
            let kept = case_kept(c.into(), lower);
            same &= kept.is_some();
            *out = kept.unwrap_or(b' ');
        }
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

/// `b" " + _map_bytes(text).lower() + b" "` decoded, for any text: characters that do not map to
/// ASCII are kept as they are (and not lower-cased, like `bytes.lower`). None for a lone surrogate,
/// which Python maps with `surrogatepass` and this crate leaves to it.
pub fn lowered_any(chars: Chars<'_>) -> Option<String> {
    fn from<T: Copy + Into<u32>>(chars: &[T]) -> Option<String> {
        let mut low = String::with_capacity(chars.len() + 2);
        low.push(' ');
        for &c in chars {
            let c: u32 = c.into();
            match mapped_byte(c) {
                NOT_ASCII => low.push(char::from_u32(c)?),
                byte => low.push(byte.to_ascii_lowercase() as char),
            }
        }
        low.push(' ');
        Some(low)
    }
    match chars {
        Chars::One(s) => from(s),
        Chars::Two(s) => from(s),
        Chars::Four(s) => from(s),
    }
}

/// A haystack the general automata search: the UTF-8 of a text, and where its characters of more
/// than one byte end, so that hits are reported in characters as `ahocorasick_rs.AhoCorasick`
/// reports them for a `str`.
pub struct Utf8 {
    pub bytes: Vec<u8>,
    wide: Vec<(u32, u32)>, // (byte offset after a multi-byte character, extra bytes up to there)
}

impl Utf8 {
    fn with_capacity(bytes: usize) -> Self {
        Utf8 { bytes: Vec::with_capacity(bytes), wide: Vec::new() }
    }

    fn push(&mut self, c: char) {
        if c.is_ascii() {
            self.bytes.push(c as u8);
            return;
        }
        let mut buffer = [0u8; 4];
        let encoded = c.encode_utf8(&mut buffer).as_bytes();
        self.bytes.extend_from_slice(encoded);
        let extra = self.wide.last().map_or(0, |w| w.1) + encoded.len() as u32 - 1;
        self.wide.push((self.bytes.len() as u32, extra));
    }

    /// A character boundary of `self.bytes` as a character index.
    fn char_index(&self, byte: i64) -> i64 {
        let before = self.wide.partition_point(|&(end, _)| i64::from(end) <= byte);
        byte - before.checked_sub(1).map_or(0, |k| i64::from(self.wide[k].1))
    }

    /// A hit in bytes of `self.bytes` as the same hit in characters.
    pub fn in_chars(&self, (pattern, start, end): (i64, i64, i64)) -> (i64, i64, i64) {
        (pattern, self.char_index(start), self.char_index(end))
    }
}

fn general_from<T: Copy + Into<u32>, L: Copy + Into<u32>>(chars: &[T], low: &[L]) -> Option<(Utf8, Utf8)> {
    let n = chars.len();
    if low.len() != n + 2 {
        return None;
    }
    let (mut backwards, mut lowered) =
        (Utf8::with_capacity(n + n / 4 + 2), Utf8::with_capacity(n + n / 4 + 2));
    backwards.push(' ');
    for (&c, &lower) in chars.iter().zip(&low[1..=n]).rev() {
        let (c, lower): (u32, u32) = (c.into(), lower.into());
        let kept = if lower == u32::from(b' ') {
            lower
        } else if lower < 0x80 {
            u32::from(case_kept(c, lower as u8)?)
        } else {
            (c == lower).then_some(c)?
        };
        backwards.push(char::from_u32(kept)?);
    }
    backwards.push(' ');
    for &lower in low {
        lowered.push(char::from_u32(lower.into())?);
    }
    Some((backwards, lowered))
}

/// What the general automata search for a text that is not ASCII once mapped: the case-kept
/// matching text reversed and the lower-cased one `low` (`lowered_any(text)`), both as UTF-8. None
/// when `low` is not that text's (checked like `backwards`: letters and kept characters must
/// agree, a space is taken on trust).
pub fn general(chars: Chars<'_>, low: Chars<'_>) -> Option<(Utf8, Utf8)> {
    fn with<T: Copy + Into<u32>>(chars: &[T], low: Chars<'_>) -> Option<(Utf8, Utf8)> {
        match low {
            Chars::One(l) => general_from(chars, l),
            Chars::Two(l) => general_from(chars, l),
            Chars::Four(l) => general_from(chars, l),
        }
    }
    match chars {
        Chars::One(s) => with(s, low),
        Chars::Two(s) => with(s, low),
        Chars::Four(s) => with(s, low),
    }
}
