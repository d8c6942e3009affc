//! One `tag()` call: the order of `Tagger._tag_python`, step by step, from automaton hits to the
//! `TagResult`. The steps themselves live in actors.rs, places.rs, topics.rs and output.rs.

use crate::api::Core;
use crate::automata::Hit;
use crate::pytext::Chars;
use crate::tables::{ActorFlavour, TopicPattern};
use crate::topics::{TopicCounts, TOPIC_LEAD_CHARS};
use pyo3::prelude::*;
use pyo3::types::PyString;

pub const MAX_SPANS: usize = 25; // evidence spans kept per tag (`mentions` counts them all)
pub const SEPARATOR_LEN: i64 = 2; // "\n\n" between the title and the body
const SPORT_REPORT_SCORE: f64 = 0.9; // the sport score of a match report, whose countries are teams

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
        let mut counts = TopicCounts::new(core.topic_rules.len());
        let mut exact_topic_hits: Vec<(usize, i64, i64)> = Vec::new();
        if !topic_hits.is_empty() {
            self.count_topic_hits(topic_hits, &mut counts, &mut cue_for, &mut cue_against);
        }
        let mut accepted = if hits.iter().any(|h| patterns[h.2].special) {
            self.resolve_others(hits, &cue_for, &cue_against, &mut exact_topic_hits)
        } else {
            hits
        };
        let extra =
            exact_topic_hits.iter().copied().chain(regex_hits.iter().map(|&(r, s, e)| (r as usize, s, e)));
        for (rule, start, _) in extra {
            counts.rules.add(rule, 1.0);
            if start < self.body_start + TOPIC_LEAD_CHARS {
                counts.add_front(rule, start >= self.title_len);
            }
        }
        let topics = if counts.rules.items.is_empty() {
            Vec::new()
        } else {
            self.score_topics(topic_hits, &exact_topic_hits, regex_hits, &counts)
        };
        // `_is_match_report`: countries are teams only where sport scores as a match report
        let sport =
            topics.iter().any(|t| t.topic as i64 == core.sport_topic && t.score >= SPORT_REPORT_SCORE);
        if !accepted.is_empty() && (sport || self.chars.contains('$' as u32)) {
            self.drop_non_states(&mut accepted, sport);
        }
        let actors = if accepted.is_empty() { Vec::new() } else { self.summarize(&accepted) };
        self.result(py, &actors, &topics)
    }
}
