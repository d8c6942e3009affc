//! The compiled path of `schemas.text.clean_text` after its NFC step: controls and invisible marks
//! dropped, the words of a paragraph joined by one space, paragraphs by one blank line.
//!
//! Python splits paragraphs at `\n\s*\n` and joins each one's `split()`; that is the same as
//! joining all the words, by "\n\n" where the whitespace between two of them holds two line breaks
//! or more and by " " elsewhere (a paragraph break is whitespace, and `split()` drops the rest).
//! Whitespace is the interpreter's (`str.isspace`). tests/schemas/test_text_equivalence.py holds
//! the two paths equal.

use crate::pytext::{is_space, Chars};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyString;

/// `schemas.text._CONTROL`: C0/C1 controls but tab and newline, zero-width and bidi marks, BOM.
fn is_control(c: u32) -> bool {
    matches!(c,
        0x00..=0x08 | 0x0b | 0x0c | 0x0e..=0x1f | 0x7f..=0x9f | 0x200b..=0x200f | 0x202a..=0x202e
        | 0x2060..=0x2064 | 0x2066..=0x2069 | 0xfeff)
}

/// The cleaned characters, in the width of the input's (a Latin-1 text stays one byte each).
fn clean<T: Copy + Into<u32> + From<u8>>(chars: &[T]) -> Vec<T> {
    let mut out = Vec::with_capacity(chars.len());
    let (mut breaks, mut gap) = (0u32, false); // line breaks and any whitespace since the last word
    for &c in chars {
        let code: u32 = c.into();
        if is_control(code) {
            continue;
        }
        if is_space(code) {
            breaks += u32::from(code == u32::from(b'\n'));
            gap = true;
            continue;
        }
        if gap && !out.is_empty() {
            if breaks >= 2 {
                out.extend([T::from(b'\n'), T::from(b'\n')]);
            } else {
                out.push(T::from(b' '));
            }
        }
        (breaks, gap) = (0, false);
        out.push(c);
    }
    out
}

/// A `str` of `kind` (1, 2 or 4 bytes a character) from its characters.
fn new_str<'py, T>(
    py: Python<'py>,
    kind: std::os::raw::c_int,
    chars: &[T],
) -> PyResult<Bound<'py, PyString>> {
    // SAFETY: `chars` holds chars.len() characters of `kind` bytes each; CPython copies them (and
    // narrows the kind when they all fit a smaller one).
    unsafe {
        let obj = ffi::PyUnicode_FromKindAndData(kind, chars.as_ptr().cast(), chars.len() as ffi::Py_ssize_t);
        Bound::from_owned_ptr_or_err(py, obj).map(|obj| obj.cast_into_unchecked())
    }
}

/// `clean_text(text)` for a text already NFC-normalized with `\r` turned into `\n`.
#[pyfunction]
pub fn clean_paragraphs<'py>(py: Python<'py>, text: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyString>> {
    match Chars::of(text)? {
        Chars::One(s) => new_str(py, 1, &clean(s)),
        Chars::Two(s) => new_str(py, 2, &clean(s)),
        Chars::Four(s) => new_str(py, 4, &clean(s)),
    }
}
