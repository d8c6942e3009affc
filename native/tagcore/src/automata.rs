//! The automata of `Tagger` (actors, topics), one pair per flavour: over the ASCII keys for texts
//! that are ASCII once mapped (their bytes), over every key for any other (its UTF-8, mapping.rs).
//!
//! They are built from the very keys and match kinds of the Python side's automata (`_Automaton`),
//! with the crate that ahocorasick_rs wraps, pinned to the version it ships, so a pattern number
//! here is a row of the flavour's tables and the hits, their order included, are the ones Python
//! would get (its `AhoCorasick` over `str` also searches the UTF-8 and reports characters).
//! Searching here saves building a Python tuple per hit.
//!
//! Both actor automata are contiguous NFAs, not DFAs. For the general flavour (the registry's
//! non-Latin aliases are two thirds of its actor keys) a DFA took ~0.5 s to build, the NFA ~0.09 s,
//! and searched only ~10 % faster. For the ASCII flavour, once the registry grew to ~39,000 patterns,
//! the DFA no longer searched faster (80-83 µs an article either way, timed by hand on 20,000 bench
//! articles) but took 0.2 s longer to build and ~90 MiB more memory. Either kind finds the same
//! hits. The topic automata (a few hundred keys) are DFAs in both flavours.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// A hit: (pattern number, start, end) in bytes of the haystack, as `find_matches_as_indexes`.
pub type Hit = (i64, i64, i64);

pub struct Automata {
    actors: Option<AhoCorasick>, // over the case-kept text reversed; non-overlapping
    topics: Option<AhoCorasick>, // over the lower-cased text; overlapping
}

fn match_kind(name: &str) -> PyResult<MatchKind> {
    match name {
        "Standard" => Ok(MatchKind::Standard),
        "LeftmostFirst" => Ok(MatchKind::LeftmostFirst),
        "LeftmostLongest" => Ok(MatchKind::LeftmostLongest),
        _ => Err(PyValueError::new_err(format!("tagcore.Core: unknown match kind {name:?}"))),
    }
}

/// `AhoCorasick(keys, matchkind=kind, implementation=...)`, None without keys as in Python.
fn build(
    keys: &[Vec<u8>],
    kind: MatchKind,
    implementation: AhoCorasickKind,
) -> PyResult<Option<AhoCorasick>> {
    if keys.is_empty() {
        return Ok(None);
    }
    AhoCorasick::builder()
        .kind(Some(implementation))
        .match_kind(kind)
        // Every key starts with a space (the word boundary), so the prefilter would stop at every
        // word to find what the automaton finds anyway; it changes speed, never hits.
        .prefilter(false)
        .build(keys)
        .map(Some)
        .map_err(|error| PyValueError::new_err(format!("tagcore.Core: automaton: {error}")))
}

impl Automata {
    pub fn new(
        actor_keys: &[Vec<u8>],
        actor_kind: &str,
        topic_keys: &[Vec<u8>],
        topic_kind: &str,
        actor_implementation: AhoCorasickKind,
    ) -> PyResult<Self> {
        let topic_kind = match_kind(topic_kind)?;
        if topic_kind != MatchKind::Standard {
            // Python searches topics with overlapping=True, which only the standard kind allows.
            return Err(PyValueError::new_err("tagcore.Core: the topic automaton must be Standard"));
        }
        Ok(Automata {
            actors: build(actor_keys, match_kind(actor_kind)?, actor_implementation)?,
            topics: build(topic_keys, topic_kind, AhoCorasickKind::DFA)?,
        })
    }

    /// `find_matches_as_indexes(backwards)`: leftmost(-longest) and non-overlapping.
    pub fn actor_hits(&self, backwards: &[u8]) -> Vec<Hit> {
        let Some(automaton) = &self.actors else { return Vec::new() };
        automaton
            .find_iter(backwards)
            .map(|m| (m.pattern().as_u64() as i64, m.start() as i64, m.end() as i64))
            .collect()
    }

    /// `find_matches_as_indexes(lowered, overlapping=True)`: every hit, in order of its end.
    pub fn topic_hits(&self, lowered: &[u8]) -> Vec<Hit> {
        let Some(automaton) = &self.topics else { return Vec::new() };
        automaton
            .find_overlapping_iter(lowered)
            .map(|m| (m.pattern().as_u64() as i64, m.start() as i64, m.end() as i64))
            .collect()
    }
}
