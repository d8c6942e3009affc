//! The compiled per-article path of `pipelines.tag_match.Tagger` (`tagcore.Core`): the mapping, both
//! automata and every rule after them (for a text with a lone surrogate, only the rules after
//! Python's automata). Either way it returns the `TagResult` the Python path returns.
//!
//! The Python code in pipelines/tag_match.py is the reference and this is a port of it, step by
//! step and in the same order, so that every result is identical (tests/pipelines/
//! test_tag_match_equivalence.py). Three things make "identical" hold rather than "close":
//! - floats are summed and multiplied in Python's order (first-seen order of dict keys) and `exp`
//!   and `pow` are libm's, as `math.exp` and `float ** int` use; `round(x, 4)` is `round4`;
//! - offsets are character offsets read straight from the `str` buffers; the automata of texts that
//!   are not ASCII once mapped search a UTF-8 copy and report characters, as ahocorasick_rs does;
//! - `isalpha`, `isupper` and `lower` use the interpreter's own Unicode tables for non-ASCII text.
//!
//! The modules, in the order `tag_text` uses them: mapping (the matching text), automata (the hits),
//! article (the steps in order), actors and places (which hits are mentions), topics (scores and
//! evidence), output (the Python objects); api is the Python-facing class (`Core`), tables what it holds,
//! pytext and pymath the Python semantics the rest relies on.
//!
//! Beside the tagger, `words` is the compiled path of the word loops of `schemas/` (word counts,
//! canonical text, MinHash signatures and LSH band keys) and `clean` that of `clean_text`, exposed
//! as plain functions.

use pyo3::prelude::*;

mod actors;
mod api;
mod article;
mod automata;
mod clean;
mod mapping;
mod output;
mod places;
mod pymath;
mod pytext;
mod tables;
mod topics;
mod words;

/// `round(x, 4)`, computed as Python computes it (exposed for the tests).
#[pyfunction]
#[pyo3(name = "round4")]
fn round4_py(x: f64) -> f64 {
    pymath::round4(x)
}

#[pymodule]
fn tagcore(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<api::Core>()?;
    m.add_function(wrap_pyfunction!(round4_py, m)?)?;
    m.add_function(wrap_pyfunction!(words::count_words, m)?)?;
    m.add_function(wrap_pyfunction!(words::canonical_utf8, m)?)?;
    m.add_function(wrap_pyfunction!(words::minhash, m)?)?;
    m.add_function(wrap_pyfunction!(words::band_keys, m)?)?;
    m.add_function(wrap_pyfunction!(clean::clean_paragraphs, m)?)?;
    Ok(())
}
