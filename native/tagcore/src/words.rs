//! The compiled path of the word loops in `schemas/`: word counts (`schemas.text.count_words`),
//! canonical text (`schemas.ids.canonical_text`, `content_hash`), MinHash signatures and LSH band
//! keys (`schemas.near_dup`). Stored hashes, counts, signatures and keys depend on every bit, so each
//! function is a port of the numpy path step by step, with the same 64-bit wrapping arithmetic and
//! the same constants, and a word is what Python's `re` calls `\w+` (the interpreter's own tables).
//! tests/schemas/test_text_equivalence.py and test_near_dup_equivalence.py hold them to it.

use crate::pytext::Chars;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use std::os::raw::c_int;
use std::sync::OnceLock;

extern "C" {
    // The parts of Py_UNICODE_ISALNUM, which is what `re`'s `\w` tests (with "_").
    fn _PyUnicode_IsAlpha(ch: u32) -> c_int;
    fn _PyUnicode_IsDecimalDigit(ch: u32) -> c_int;
    fn _PyUnicode_IsDigit(ch: u32) -> c_int;
    fn _PyUnicode_IsNumeric(ch: u32) -> c_int;
}

// schemas/near_dup.py's constants: never change them (stored signatures and keys depend on them).
const POLY_BASE: u64 = 0x100000001B3 | 1;
const LENGTH_SALT: u64 = 0xD1B54A32D192ED03;
const SHINGLE_MULT: [u64; 10] = [
    0x9E3779B97F4A7C15,
    0xC2B2AE3D27D4EB4F,
    0x165667B19E3779F9,
    0xD6E8FEB86659FD93,
    0xFF51AFD7ED558CCD,
    0xC4CEB9FE1A85EC53,
    0x27D4EB2F165667C5,
    0x85EBCA77C2B2AE63,
    0x9FB21C651E98DF25,
    0xA0761D6478BD642F,
];
const BAND_SALT: u64 = 0x2545F4914F6CDD1D;
const MAX_SIG: u64 = (1 << 32) - 1;
const EMPTY: u64 = 1 << 32; // above every 32-bit value: a bin no shingle fell into
const APOSTROPHES: [u32; 2] = ['\'' as u32, '\u{2019}' as u32];

/// `re`'s `\w` on `str` (`str.isalnum()` or "_"), read from one bit per code point for the Basic
/// Multilingual Plane (ASCII, curly quotes, dashes, Cyrillic, CJK...), asked of the interpreter
/// once per process (~1 ms), and asked per character above it.
#[derive(Clone, Copy)]
pub struct WordClass(&'static [u64]);

static BMP_WORDS: OnceLock<Vec<u64>> = OnceLock::new();

impl WordClass {
    pub fn get() -> Self {
        WordClass(BMP_WORDS.get_or_init(|| {
            (0..0x10000u32 / 64)
                .map(|block| {
                    (0..64).filter(|&i| is_word_char(block * 64 + i)).fold(0, |bits, i| bits | 1 << i)
                })
                .collect()
        }))
    }

    #[inline]
    pub fn is_word(self, c: u32) -> bool {
        if c < 0x10000 {
            self.0[(c >> 6) as usize] >> (c & 63) & 1 == 1
        } else {
            is_word_char(c)
        }
    }
}

fn is_word_char(c: u32) -> bool {
    c == '_' as u32 || is_alnum(c)
}

/// Py_UNICODE_ISALNUM.
fn is_alnum(c: u32) -> bool {
    // SAFETY: pure lookups in the interpreter's Unicode tables, defined for every u32.
    unsafe {
        _PyUnicode_IsAlpha(c) != 0
            || _PyUnicode_IsDecimalDigit(c) != 0
            || _PyUnicode_IsDigit(c) != 0
            || _PyUnicode_IsNumeric(c) != 0
    }
}

/// splitmix64's finalizer (`schemas.near_dup._mix`).
fn mix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xBF58476D1CE4E5B9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94D049BB133111EB);
    x ^ (x >> 31)
}

/// `each(code points of text)`, compiled once per buffer width (1, 2 or 4 bytes per character).
macro_rules! over_chars {
    ($text:expr, $each:ident) => {{
        let class = WordClass::get();
        match Chars::of($text)? {
            Chars::One(s) => $each(class, s.iter().map(|&c| c as u32)),
            Chars::Two(s) => $each(class, s.iter().map(|&c| c as u32)),
            Chars::Four(s) => $each(class, s.iter().copied()),
        }
    }};
}

/// `len(re.findall(r"\w+(?:['’]\w+)*", text))`: every run of word characters starts a word unless
/// an apostrophe joins it to the run just before.
#[pyfunction]
pub fn count_words(text: &Bound<'_, PyString>) -> PyResult<usize> {
    Ok(over_chars!(text, word_count))
}

fn word_count(class: WordClass, chars: impl ExactSizeIterator<Item = u32>) -> usize {
    // Branch-free (`&` on bools): word boundaries in prose are too irregular to predict.
    let (mut count, mut prev_word, mut joinable) = (0, false, false);
    for c in chars {
        let word = class.is_word(c);
        count += (word & !prev_word & !joinable) as usize;
        joinable = prev_word & ((c == APOSTROPHES[0]) | (c == APOSTROPHES[1]));
        prev_word = word;
    }
    count
}

/// The UTF-8 of `" ".join(re.findall(r"\w+", folded))`, for `folded` already NFKC-normalized and
/// casefolded (the canonical text of `schemas.ids`).
#[pyfunction]
pub fn canonical_utf8<'py>(folded: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyBytes>> {
    let out = over_chars!(folded, canonical);
    Ok(PyBytes::new(folded.py(), out.as_bytes()))
}

fn canonical(class: WordClass, chars: impl ExactSizeIterator<Item = u32>) -> String {
    let mut out = String::with_capacity(chars.len() + chars.len() / 4);
    let mut gap = false;
    for c in chars {
        if class.is_word(c) {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            // A word character is never a surrogate, so always a `char`.
            out.push(char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER));
        } else {
            gap = true;
        }
    }
    out
}

/// `schemas.near_dup._word_hashes` of an already folded text: per word w = cps[s:e],
/// `(e - s) * LENGTH_SALT ^ sum_j cps[j] * BASE**(j - s)`, all modulo 2**64.
fn word_hashes(class: WordClass, chars: impl ExactSizeIterator<Item = u32>) -> Vec<u64> {
    // Branch-free: every step writes the hash of the run so far into the next free slot and only
    // moves past it where a run ends; masks reset the run at a non-word character.
    let mut words = vec![0u64; chars.len() / 2 + 2];
    let (mut count, mut sum, mut power, mut len) = (0usize, 0u64, 1u64, 0u64);
    for c in chars {
        let keep = 0u64.wrapping_sub(class.is_word(c) as u64); // all ones inside a word
        words[count] = sum ^ len.wrapping_mul(LENGTH_SALT);
        count += (keep == 0 && len > 0) as usize;
        sum = sum.wrapping_add((c as u64).wrapping_mul(power)) & keep;
        power = power.wrapping_mul(POLY_BASE) & keep | !keep & 1;
        len = (len + 1) & keep;
    }
    words[count] = sum ^ len.wrapping_mul(LENGTH_SALT);
    count += (len > 0) as usize;
    words.truncate(count);
    words
}

/// `schemas.near_dup.minhash_array` of an already folded text, as native-endian uint64 bytes.
/// `seed_mix` is `(seed * 0x9E3779B97F4A7C15) mod 2**64`; `probes` the native-endian uint32 bytes
/// of `_probes(num_perm, seed)` (row b: where empty bin b borrows its value).
#[pyfunction]
pub fn minhash<'py>(
    folded: &Bound<'py, PyString>,
    num_perm: usize,
    k: usize,
    seed_mix: u64,
    probes: &[u8],
) -> PyResult<Bound<'py, PyBytes>> {
    if num_perm == 0 || num_perm > u32::MAX as usize || !(1..=SHINGLE_MULT.len()).contains(&k) {
        return Err(PyValueError::new_err(format!("bad num_perm {num_perm} or k {k}")));
    }
    if probes.len() != num_perm * num_perm * 4 {
        return Err(PyValueError::new_err(format!(
            "probes must be {num_perm} x {num_perm} uint32 values, got {} bytes",
            probes.len()
        )));
    }
    let words = over_chars!(folded, word_hashes);
    let mut signature = vec![EMPTY; num_perm];
    if words.is_empty() {
        signature.fill(MAX_SIG);
    } else {
        let span = k.min(words.len());
        for window in words.windows(span) {
            let mut acc = 0u64;
            for (word, mult) in window.iter().zip(SHINGLE_MULT) {
                acc = acc.wrapping_add(word.wrapping_mul(mult));
            }
            let mixed = mix(mix(acc ^ span as u64) ^ seed_mix);
            let bin = (((mixed >> 32).wrapping_mul(num_perm as u64)) >> 32) as usize;
            signature[bin] = signature[bin].min(mixed & MAX_SIG);
        }
        // Densify: an empty bin takes the value of the first bin filled by a shingle in its row.
        let filled: Vec<bool> = signature.iter().map(|&v| v != EMPTY).collect();
        for bin in 0..num_perm {
            if filled[bin] {
                continue;
            }
            let row = &probes[bin * num_perm * 4..(bin + 1) * num_perm * 4];
            let source = row
                .chunks_exact(4)
                .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize)
                .find(|&p| p < num_perm && filled[p]);
            match source {
                Some(p) => signature[bin] = signature[p],
                None => return Err(PyValueError::new_err("probes: a row is not a permutation of the bins")),
            }
        }
    }
    let bytes: Vec<u8> = signature.iter().flat_map(|v| v.to_ne_bytes()).collect();
    Ok(PyBytes::new(folded.py(), &bytes))
}

/// `schemas.near_dup.band_keys` of a signature given as native-endian uint64 bytes.
#[pyfunction]
pub fn band_keys(signature: &[u8], bands: usize, rows: usize) -> PyResult<Vec<String>> {
    if bands == 0 || rows == 0 || signature.len() < bands * rows * 8 {
        return Err(PyValueError::new_err(format!(
            "{bands} bands of {rows} rows need {} signature bytes, got {}",
            bands * rows * 8,
            signature.len()
        )));
    }
    let values: Vec<u64> = signature
        .chunks_exact(8)
        .take(bands * rows)
        .map(|b| u64::from_ne_bytes(b.try_into().expect("chunks of 8")))
        .collect();
    Ok(values
        .chunks_exact(rows)
        .enumerate()
        .map(|(band, row)| {
            let mut acc = (band as u64).wrapping_mul(BAND_SALT);
            for (r, &value) in row.iter().enumerate() {
                acc = acc.wrapping_add(value.wrapping_mul(SHINGLE_MULT[r % SHINGLE_MULT.len()]));
            }
            format!("{band:02}-{:016x}", mix(acc))
        })
        .collect())
}
