//! The build-time tables of `Core`: what `Tagger._native_core` passes in, once per `Tagger`, as
//! flat rows (ints, not objects) so that `tag()` only indexes. The Python objects kept here (vias,
//! weights, ids) are the ones every `Span` and tag shares, never copies.

use pyo3::prelude::*;

// `_ActorPattern.role`
pub const NAME: u8 = 0;
pub const AMBIGUOUS: u8 = 1;
pub const SURNAME: u8 = 2;

/// The word lists of pipelines/tag_match.py, passed in at build time (one source of truth).
pub struct Words {
    pub locative: Vec<String>,
    pub place_nouns: Vec<String>,
    pub place_of: Vec<String>,
    pub place_modifiers: Vec<String>,
    pub state_nouns: Vec<String>,
    pub state_verbs: Vec<String>,
    pub not_a_first_name: Vec<String>,
    pub function_words: Vec<String>,
    pub following_ok: Vec<String>,
    pub the: Vec<String>,
    pub of: Vec<String>,
}

pub struct ActorPattern {
    pub start_adjust: i64,
    pub end_adjust: i64,
    pub special: bool, // not _PLAIN
    pub role: u8,
    pub actor: i64,
    pub rule: i64,
    pub via: u32, // interned `via`, compared by the capital-as-surname rule
    pub place: bool,
    pub via_upper: bool,             // via.isupper()
    pub via_the: bool,               // via.lower().startswith("the ")
    pub surnames: Vec<(i64, usize)>, // (person, entry of that surname)
    pub topic_rules: Vec<usize>,
    pub nested: Vec<(i64, i64, usize)>, // (start, end, entry) of the names inside this name
}

pub struct Entry {
    pub actor: i64,
    pub weight: f64,
    pub weight_obj: Py<PyAny>,
    pub via: Py<PyAny>,
}

pub struct ActorFlavour {
    pub uniform: bool,
    pub patterns: Vec<ActorPattern>,
    pub entries: Vec<Entry>,
}

pub struct TopicPattern {
    pub start_adjust: i64,
    pub end_adjust: i64,
    pub prefix: bool,
    pub rules: Vec<usize>,
    pub cues: Vec<(usize, i64)>,
    pub single_rule: i64,
    pub complex: bool,
    pub hidden: Vec<usize>, // its rules written in lower case, which a longer capitalised name hides
}

pub struct TopicRule {
    pub topic: usize,
    pub via: String,
    pub via_obj: Py<PyAny>,
    pub weight: f64,
    pub weight_obj: Py<PyAny>,
}

pub struct Topic {
    pub id: String,
    pub id_obj: Py<PyAny>,
    pub label: Py<PyAny>,
    pub threshold: f64,
    pub parent: i64,
}

pub struct Actor {
    pub id: String,
    pub info: [Py<PyAny>; 4], // id, name, kind, country (str or None)
    pub country: i64,         // interned country code, -1 for None
    pub adds_country: bool,   // its kind puts its country into TagResult.countries
    pub is_country: bool,     // a country or territory (a team in a sport report)
}

pub struct Rule {
    pub default: bool,
    pub name_neighbour: bool,
    pub support_countries: Vec<usize>,
    pub against_countries: Vec<usize>,
    pub support_actors: Vec<usize>,
}

// (.., via, (place, via_upper, via_the), surnames, topic rules, nested): pyo3 takes at most 12
pub type ActorPatternArgs = (
    i64,
    i64,
    bool,
    u8,
    i64,
    i64,
    u32,
    (bool, bool, bool),
    Vec<(i64, usize)>,
    Vec<usize>,
    Vec<(i64, i64, usize)>,
);
pub type EntryArgs = (i64, Py<PyAny>, Py<PyAny>); // actor, weight, via
pub type TopicPatternArgs = (i64, i64, bool, Vec<usize>, Vec<(usize, i64)>, i64, bool, Vec<usize>);
pub type TopicArgs = (String, Py<PyAny>, Py<PyAny>, f64, i64); // id, id, label, threshold, parent
pub type RuleArgs = (bool, bool, Vec<usize>, Vec<usize>, Vec<usize>); // see `Rule`
pub type FlavourArgs = (bool, Vec<ActorPatternArgs>, Vec<EntryArgs>, Vec<TopicPatternArgs>);

pub fn flavour(py: Python<'_>, args: FlavourArgs) -> PyResult<(ActorFlavour, Vec<TopicPattern>)> {
    let (uniform, patterns, entries, topic_patterns) = args;
    let actors = ActorFlavour {
        uniform,
        patterns: patterns
            .into_iter()
            .map(|p| ActorPattern {
                start_adjust: p.0,
                end_adjust: p.1,
                special: p.2,
                role: p.3,
                actor: p.4,
                rule: p.5,
                via: p.6,
                place: p.7 .0,
                via_upper: p.7 .1,
                via_the: p.7 .2,
                surnames: p.8,
                topic_rules: p.9,
                nested: p.10,
            })
            .collect(),
        entries: entries
            .into_iter()
            .map(|(actor, weight_obj, via)| {
                Ok(Entry { actor, weight: weight_obj.extract(py)?, weight_obj, via })
            })
            .collect::<PyResult<_>>()?,
    };
    let topics = topic_patterns
        .into_iter()
        .map(|p| TopicPattern {
            start_adjust: p.0,
            end_adjust: p.1,
            prefix: p.2,
            rules: p.3,
            cues: p.4,
            single_rule: p.5,
            complex: p.6,
            hidden: p.7,
        })
        .collect();
    Ok((actors, topics))
}
