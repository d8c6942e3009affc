//! One `tag()` call: the order of `Tagger._tag_python`, step by step, from automaton hits to the
//! `TagResult`. The steps themselves live in actors.rs, places.rs, topics.rs and output.rs.

use crate::api::Core;
use crate::automata::Hit;
use crate::pymath::Counts;
use crate::pytext::Chars;
use crate::tables::{ActorFlavour, TopicPattern};
use pyo3::prelude::*;
use pyo3::types::PyString;

pub const TITLE_FACTOR: f64 = 1.5; // a topic rule hit in the title counts this many hits
pub const MAX_SPANS: usize = 25; // evidence spans kept per tag (`mentions` counts them all)
const SEPARATOR_LEN: i64 = 2; // "\n\n" between the title and the body

/// A mention: (start, end, entry), ordered as Python orders the tuples.
pub type Mention = (i64, i64, usize);

/// The per-article state of one `tag()` call.
pub struct Article<'a, 'py> {
    pub core: &'a Core,
    pub actors: &'a ActorFlavour,
    pub topics: &'a [TopicPattern],
    pub text: &'a Bound<'py, PyString>,
    pub chars: Chars<'a>,
    pub low: Chars<'a>, // the lower-cased padded matching text
    pub title_len: i64,
    pub body_start: i64,
    pub ascii: bool, // the tables (and automata) for texts that are ASCII once mapped
}

impl<'a, 'py> Article<'a, 'py> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        core: &'a Core,
        actors: &'a ActorFlavour,
        topics: &'a [TopicPattern],
        text: &'a Bound<'py, PyString>,
        chars: Chars<'a>,
        low: Chars<'a>,
        title_len: i64,
        ascii: bool,
    ) -> Self {
        Article {
            core,
            actors,
            topics,
            text,
            chars,
            low,
            title_len,
            body_start: title_len + SEPARATOR_LEN,
            ascii,
        }
    }

    /// `Tagger._tag_python` from the hits of the actor automaton (over the reversed text), of the
    /// topic automaton and of the topic regexes (`(rule, start, end)`).
    pub fn run(
        &self,
        py: Python<'_>,
        actor_hits: &[Hit],
        topic_hits: &[Hit],
        regex_hits: &[Hit],
    ) -> PyResult<Py<PyAny>> {
        let core = self.core;
        let patterns = &self.actors.patterns;
        let hits = self.mentions(actor_hits);
        let mut cue_for = vec![0i64; core.rules.len()];
        let mut cue_against = vec![0i64; core.rules.len()];
        let mut rule_counts = Counts::new(core.topic_rules.len());
        let mut exact_topic_hits: Vec<(usize, i64, i64)> = Vec::new();
        if !topic_hits.is_empty() {
            self.count_topic_hits(topic_hits, &mut rule_counts, &mut cue_for, &mut cue_against);
        }
        let mut accepted = if hits.iter().any(|h| patterns[h.2].special) {
            self.resolve_others(hits, &cue_for, &cue_against, &mut rule_counts, &mut exact_topic_hits)
        } else {
            hits
        };
        for &(rule, start, _) in regex_hits {
            rule_counts.add(rule as usize, if start < self.title_len { TITLE_FACTOR } else { 1.0 });
        }
        let topics = if rule_counts.items.is_empty() {
            Vec::new()
        } else {
            self.score_topics(topic_hits, &exact_topic_hits, regex_hits, &rule_counts)
        };
        let sport = topics.iter().any(|t| t.topic as i64 == core.sport_topic);
        if !accepted.is_empty() && (sport || self.chars.contains('$' as u32)) {
            self.drop_non_states(&mut accepted, sport);
        }
        let actors = if accepted.is_empty() { Vec::new() } else { self.summarize(&accepted) };
        self.result(py, &actors, &topics)
    }
}
