//! The two byte automata of `Tagger` (actors, topics) for texts that are ASCII once mapped.
//!
//! They are built from the very keys and match kinds of the Python side's `BytesAhoCorasick` DFAs
//! (`_Automaton.ascii_keys`), with the crate that package wraps, pinned to the version it ships,
//! so a pattern number here is a row of the ASCII flavour's tables and the hits, their order
//! included, are the ones Python would get. Searching here saves building a Python tuple per hit.

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

/// `BytesAhoCorasick(keys, matchkind=kind, implementation=DFA)`, None without keys as in Python.
fn build(keys: &[Vec<u8>], kind: MatchKind) -> PyResult<Option<AhoCorasick>> {
    if keys.is_empty() {
        return Ok(None);
    }
    AhoCorasick::builder()
        .kind(Some(AhoCorasickKind::DFA))
        .match_kind(kind)
        // Every key starts with a space (the word boundary), so the prefilter would stop at every
        // word to find what the DFA finds anyway; it changes speed, never hits.
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
    ) -> PyResult<Self> {
        let topic_kind = match_kind(topic_kind)?;
        if topic_kind != MatchKind::Standard {
            // Python searches topics with overlapping=True, which only the standard kind allows.
            return Err(PyValueError::new_err("tagcore.Core: the topic automaton must be Standard"));
        }
        Ok(Automata {
            actors: build(actor_keys, match_kind(actor_kind)?)?,
            topics: build(topic_keys, topic_kind)?,
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
