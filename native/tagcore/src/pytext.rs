//! Characters as Python sees them: code points by index straight from a `str`'s buffer, and
//! `isalpha`/`isupper`/`lower` from the interpreter's own Unicode tables, so that offsets and word
//! tests agree with the Python path on any script.

use pyo3::prelude::*;
use pyo3::types::{PyString, PyStringData};
use std::os::raw::c_int;

extern "C" {
    // CPython's character predicates (what str.isalpha() etc. call), exported by libpython.
    fn _PyUnicode_IsAlpha(ch: u32) -> c_int;
    fn _PyUnicode_IsUppercase(ch: u32) -> c_int;
    fn _PyUnicode_IsLowercase(ch: u32) -> c_int;
    fn _PyUnicode_IsTitlecase(ch: u32) -> c_int;
    fn _PyUnicode_IsWhitespace(ch: u32) -> c_int;
    fn _PyUnicode_ToLowerFull(ch: u32, res: *mut u32) -> c_int;
}

/// A `str`'s code points by index, straight from its buffer (1, 2 or 4 bytes per character).
#[derive(Clone, Copy)]
pub enum Chars<'a> {
    One(&'a [u8]),
    Two(&'a [u16]),
    Four(&'a [u32]),
}

impl<'a> Chars<'a> {
    pub fn of(text: &'a Bound<'_, PyString>) -> PyResult<Self> {
        // SAFETY: the buffer lives as long as `text`, which outlives the returned view.
        let data = unsafe { text.data()? };
        Ok(match data {
            PyStringData::Ucs1(s) => Chars::One(s),
            PyStringData::Ucs2(s) => Chars::Two(s),
            PyStringData::Ucs4(s) => Chars::Four(s),
        })
    }

    /// The bytes of a Latin-1 `str` (every ASCII one), which is one byte per character.
    pub fn latin1(&self) -> Option<&'a [u8]> {
        match *self {
            Chars::One(s) => Some(s),
            _ => None,
        }
    }

    pub fn len(&self) -> i64 {
        (match self {
            Chars::One(s) => s.len(),
            Chars::Two(s) => s.len(),
            Chars::Four(s) => s.len(),
        }) as i64
    }

    /// `text[i]`, negative indexes counting from the end as in Python (out of range panics).
    pub fn at(&self, i: i64) -> u32 {
        let i = if i < 0 { i + self.len() } else { i } as usize;
        match self {
            Chars::One(s) => s[i] as u32,
            Chars::Two(s) => s[i] as u32,
            Chars::Four(s) => s[i],
        }
    }

    /// `text.find(ch, from)`, -1 when absent.
    pub fn find(&self, ch: u32, from: i64) -> i64 {
        fn first<T: Copy + Into<u32>>(s: &[T], ch: u32, from: usize) -> Option<usize> {
            s.get(from..)?.iter().position(|&c| c.into() == ch)
        }
        let from = from.max(0) as usize;
        let found = match *self {
            // The '$' and '\n' scans run over whole texts: memchr for the usual one-byte buffer.
            Chars::One(s) if ch < 256 => s.get(from..).and_then(|rest| memchr::memchr(ch as u8, rest)),
            Chars::One(s) => first(s, ch, from),
            Chars::Two(s) => first(s, ch, from),
            Chars::Four(s) => first(s, ch, from),
        };
        found.map_or(-1, |k| (from + k) as i64)
    }

    /// `text.rfind(ch, 0, end)`, -1 when absent.
    pub fn rfind(&self, ch: u32, end: i64) -> i64 {
        fn last<T: Copy + Into<u32>>(s: &[T], ch: u32, end: usize) -> Option<usize> {
            s[..end].iter().rposition(|&c| c.into() == ch)
        }
        let end = end.clamp(0, self.len()) as usize;
        match *self {
            Chars::One(s) => last(s, ch, end),
            Chars::Two(s) => last(s, ch, end),
            Chars::Four(s) => last(s, ch, end),
        }
        .map_or(-1, |k| k as i64)
    }

    pub fn contains(&self, ch: u32) -> bool {
        self.find(ch, 0) >= 0
    }

    /// `text.startswith(prefix, at)` for an ASCII prefix.
    pub fn starts_with(&self, prefix: &str, at: i64) -> bool {
        at >= 0
            && at + prefix.len() as i64 <= self.len()
            && prefix.bytes().enumerate().all(|(k, b)| self.at(at + k as i64) == b as u32)
    }

    /// `text[from:to]` as a Rust string when it is ASCII (every word list is ASCII), else None.
    pub fn ascii(&self, from: i64, to: i64) -> Option<String> {
        (from..to).map(|i| char::from_u32(self.at(i)).filter(char::is_ascii)).collect()
    }

    /// `text[from:to] in words` (case-sensitive).
    pub fn word_in(&self, from: i64, to: i64, words: &[String]) -> bool {
        self.ascii(from, to).is_some_and(|w| words.contains(&w))
    }

    /// `text[from:to].lower() in words`. A non-ASCII letter whose lower case is not ASCII cannot
    /// make an ASCII word, so the capital-sigma rule of str.lower() needs no port.
    pub fn lower_in(&self, from: i64, to: i64, words: &[String]) -> bool {
        let mut out = String::with_capacity((to - from).max(0) as usize);
        for i in from..to {
            let c = self.at(i);
            if c < 128 {
                out.push((c as u8).to_ascii_lowercase() as char);
                continue;
            }
            let mut lower = [0u32; 3];
            // SAFETY: `lower` has room for the at most 3 code points the function writes.
            let n = unsafe { _PyUnicode_ToLowerFull(c, lower.as_mut_ptr()) } as usize;
            for &l in &lower[..n] {
                if l >= 128 {
                    return false;
                }
                out.push(l as u8 as char);
            }
        }
        words.contains(&out)
    }

    /// `text[from:to].isupper()`: some cased character and no lower- or title-case one.
    pub fn is_upper(&self, from: i64, to: i64) -> bool {
        if to - from == 1 {
            return is_upper(self.at(from));
        }
        let mut cased = false;
        for i in from..to {
            let c = self.at(i);
            if is_lower_or_title(c) {
                return false;
            }
            cased = cased || is_upper(c);
        }
        cased
    }
}

pub fn is_alpha(c: u32) -> bool {
    if c < 128 {
        (c as u8).is_ascii_alphabetic()
    } else {
        unsafe { _PyUnicode_IsAlpha(c) != 0 }
    }
}

pub fn is_upper(c: u32) -> bool {
    if c < 128 {
        (c as u8).is_ascii_uppercase()
    } else {
        unsafe { _PyUnicode_IsUppercase(c) != 0 }
    }
}

pub fn is_lower_or_title(c: u32) -> bool {
    if c < 128 {
        (c as u8).is_ascii_lowercase()
    } else {
        unsafe { _PyUnicode_IsLowercase(c) != 0 || _PyUnicode_IsTitlecase(c) != 0 }
    }
}

/// `\s` of Python's `re` on `str` (Py_UNICODE_ISSPACE).
pub fn is_space(c: u32) -> bool {
    if c < 128 {
        matches!(c, 9..=13 | 28..=32)
    } else {
        unsafe { _PyUnicode_IsWhitespace(c) != 0 }
    }
}
