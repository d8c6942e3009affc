//! `tagcore.Core`, what Python sees: built once per `Tagger` from its tables, then `tag_text()`
//! (mapping, automata and rules here) or `tag()` (hits found by Python) per article.

use crate::article::Article;
use crate::automata::{Automata, Hit};
use crate::mapping;
use crate::pytext::Chars;
use crate::tables::{
    flavour, Actor, ActorFlavour, FlavourArgs, Rule, RuleArgs, Topic, TopicArgs, TopicPattern, TopicRule,
    Words,
};
use aho_corasick::AhoCorasickKind;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple, PyType};

/// What one `Tagger` knows, in flat tables; `tag()` reads it and mutates nothing.
#[pyclass(frozen, module = "tagcore")]
pub struct Core {
    pub classes: [Py<PyType>; 4], // Span, ActorTag, TopicTag, TagResult
    pub versions: [Py<PyAny>; 2],
    pub actors: Vec<Actor>,
    pub countries: usize,
    pub topics: Vec<Topic>,
    pub topic_rules: Vec<TopicRule>,
    pub rules: Vec<Rule>,
    pub sport_topic: i64,
    pub flavours: [(ActorFlavour, Vec<TopicPattern>); 2], // [ASCII, general]
    pub words: Words,
    automata: [Automata; 2], // per flavour: its pattern numbers index flavours[0] or [1]
}

/// (actor hits, topic hits) of one text.
type Hits = (Vec<Hit>, Vec<Hit>);

/// (actor keys, actor match kind, topic keys, topic match kind) of the general automata; the ASCII
/// keys among them, in order, are the ASCII flavour's.
type AutomataArgs = (Vec<String>, String, Vec<String>, String);

impl Core {
    fn article<'a, 'py>(
        &'a self,
        text: &'a Bound<'py, PyString>,
        low: &'a Bound<'py, PyString>,
        title_len: i64,
        ascii: bool,
    ) -> PyResult<Article<'a, 'py>> {
        let (actors, topics) = &self.flavours[if ascii { 0 } else { 1 }];
        Ok(Article::new(self, actors, topics, text, Chars::of(text)?, Chars::of(low)?, title_len, ascii))
    }

    /// (ASCII once mapped?, (actor hits, topic hits)) for a text and its `low`, in characters: a
    /// text whose `low` is ASCII is searched as bytes by the ASCII flavour's DFAs (byte offsets are
    /// character offsets), any other as UTF-8 by the general flavour's.
    fn search(&self, chars: Chars<'_>, low: Chars<'_>) -> PyResult<(bool, Hits)> {
        let foreign = || PyValueError::new_err("tagcore.Core: `low` is not Core.lowered(text)");
        if let Some(lowered) = low.latin1().filter(|bytes| bytes.is_ascii()) {
            let backwards = mapping::backwards(chars, lowered).ok_or_else(foreign)?;
            let automata = &self.automata[0];
            return Ok((true, (automata.actor_hits(&backwards), automata.topic_hits(lowered))));
        }
        let (backwards, lowered) = mapping::general(chars, low).ok_or_else(foreign)?;
        let automata = &self.automata[1];
        let in_chars =
            |hits: Vec<Hit>, text: &mapping::Utf8| hits.into_iter().map(|h| text.in_chars(h)).collect();
        Ok((
            false,
            (
                in_chars(automata.actor_hits(&backwards.bytes), &backwards),
                in_chars(automata.topic_hits(&lowered.bytes), &lowered),
            ),
        ))
    }
}

#[pymethods]
impl Core {
    /// Built by `pipelines.tag_match.Tagger` from its own tables (see `Tagger._native_core`).
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        classes: [Py<PyType>; 4],
        versions: [Py<PyAny>; 2],
        actors: Vec<([Py<PyAny>; 4], i64, bool, bool)>,
        countries: usize,
        topics: Vec<TopicArgs>,
        topic_rules: Vec<(usize, String, Py<PyAny>, Py<PyAny>)>, // topic, via, via, weight
        rules: Vec<RuleArgs>,
        sport_topic: i64,
        ascii: FlavourArgs,
        general: FlavourArgs,
        words: [Vec<String>; 9],
        automata: AutomataArgs,
    ) -> PyResult<Self> {
        for cls in &classes {
            if !cls.bind(py).is_subclass_of::<PyTuple>()? {
                return Err(PyTypeError::new_err("tagcore.Core: the result classes must be NamedTuples"));
            }
        }
        let [locative, place_nouns, place_of, place_modifiers, state_nouns, state_verbs, not_a_first_name, function_words, following_ok] =
            words;
        let (actor_keys, actor_kind, topic_keys, topic_kind) = automata;
        let ascii = flavour(py, ascii)?;
        let general = flavour(py, general)?;
        let utf8 = |keys: &[String]| keys.iter().map(|key| key.as_bytes().to_vec()).collect::<Vec<_>>();
        let ascii_only =
            |keys: &[String]| keys.iter().filter(|key| key.is_ascii()).cloned().collect::<Vec<_>>();
        let (ascii_actor_keys, ascii_topic_keys) = (ascii_only(&actor_keys), ascii_only(&topic_keys));
        if actor_keys.len() != general.0.patterns.len() || topic_keys.len() != general.1.len() {
            return Err(PyValueError::new_err("tagcore.Core: one automaton key per pattern"));
        }
        if ascii_actor_keys.len() != ascii.0.patterns.len() || ascii_topic_keys.len() != ascii.1.len() {
            return Err(PyValueError::new_err("tagcore.Core: one ASCII flavour row per ASCII key"));
        }
        Ok(Core {
            classes,
            versions,
            actors: actors
                .into_iter()
                .map(|(info, country, adds_country, is_country)| {
                    let id = info[0].extract::<String>(py)?;
                    Ok(Actor { id, info, country, adds_country, is_country })
                })
                .collect::<PyResult<_>>()?,
            countries,
            topics: topics
                .into_iter()
                .map(|(id, id_obj, label, threshold, parent)| Topic { id, id_obj, label, threshold, parent })
                .collect(),
            topic_rules: topic_rules
                .into_iter()
                .map(|(topic, via, via_obj, weight_obj)| {
                    Ok(TopicRule { topic, via, via_obj, weight: weight_obj.extract(py)?, weight_obj })
                })
                .collect::<PyResult<_>>()?,
            rules: rules
                .into_iter()
                .map(|(default, name_neighbour, support_countries, against_countries, support_actors)| Rule {
                    default,
                    name_neighbour,
                    support_countries,
                    against_countries,
                    support_actors,
                })
                .collect(),
            sport_topic,
            flavours: [ascii, general],
            words: Words {
                locative,
                place_nouns,
                place_of,
                place_modifiers,
                state_nouns,
                state_verbs,
                not_a_first_name,
                function_words,
                following_ok,
                the: vec!["the".to_string()],
                of: vec!["of".to_string()],
            },
            automata: [
                Automata::new(
                    &utf8(&ascii_actor_keys),
                    &actor_kind,
                    &utf8(&ascii_topic_keys),
                    &topic_kind,
                    AhoCorasickKind::ContiguousNFA,
                )?,
                Automata::new(
                    &utf8(&actor_keys),
                    &actor_kind,
                    &utf8(&topic_keys),
                    &topic_kind,
                    AhoCorasickKind::ContiguousNFA,
                )?,
            ],
        })
    }

    /// `(padded[::-1], padded.lower())` of `Tagger.tag`'s Python mapping for a text that is ASCII
    /// once mapped, else None: what `tag_text` searches then, exposed so the tests can compare it.
    fn map_ascii<'py>(&self, py: Python<'py>, text: &Bound<'py, PyString>) -> PyResult<Option<Py<PyTuple>>> {
        Ok(match mapping::map_ascii(Chars::of(text)?) {
            Some((backwards, lowered)) => {
                Some((PyBytes::new(py, &backwards), PyBytes::new(py, &lowered)).into_pyobject(py)?.unbind())
            }
            None => None,
        })
    }

    /// `(actor hits, topic hits)` of this crate's automata for `text`, in characters (None for a
    /// lone surrogate): what `tag_text` feeds the rules, exposed so the tests can compare it with
    /// the hits of Python's automata of the same flavour.
    fn hits(&self, py: Python<'_>, text: &Bound<'_, PyString>) -> PyResult<Option<Hits>> {
        let Some(low) = self.lowered(py, text)? else { return Ok(None) };
        let (_, hits) = self.search(Chars::of(text)?, Chars::of(&low)?)?;
        Ok(Some(hits))
    }

    /// The lower-cased padded matching text (`matching_text(text)`: `low` in `Tagger.tag`), None
    /// for a text with a lone surrogate; Python runs the topic regexes over it and passes it to
    /// `tag_text`.
    fn lowered<'py>(
        &self,
        py: Python<'py>,
        text: &Bound<'py, PyString>,
    ) -> PyResult<Option<Bound<'py, PyString>>> {
        let chars = Chars::of(text)?;
        if let Some(low) = mapping::lowered(chars) {
            let low = std::str::from_utf8(&low).expect("the matching text is ASCII");
            return Ok(Some(PyString::new(py, low)));
        }
        Ok(mapping::lowered_any(chars).map(|low| PyString::new(py, &low)))
    }

    /// `Tagger.tag` with `low = self.lowered(text)`: the automata of the text's flavour run here,
    /// and their hits go to the rules as Rust tuples.
    fn tag_text(
        &self,
        py: Python<'_>,
        text: &Bound<'_, PyString>,
        title_len: i64,
        low: &Bound<'_, PyString>,
        regex_hits: &Bound<'_, PyList>,
    ) -> PyResult<Py<PyAny>> {
        let (ascii, (actor_hits, topic_hits)) = self.search(Chars::of(text)?, Chars::of(low)?)?;
        let article = self.article(text, low, title_len, ascii)?;
        article.run(py, &actor_hits, &topic_hits, &hits(regex_hits)?)
    }

    /// `Tagger.tag` after the automata, for texts the Python automata searched (not ASCII once
    /// mapped): the same `TagResult`, from the same inputs.
    ///
    /// `low` is the lower-cased padded matching text; `ascii` says which tables the hits index;
    /// the hits are the automata's `(pattern, start, end)` lists, `regex_hits` `(rule, start, end)`.
    #[allow(clippy::too_many_arguments)]
    fn tag(
        &self,
        py: Python<'_>,
        text: &Bound<'_, PyString>,
        title_len: i64,
        low: &Bound<'_, PyString>,
        ascii: bool,
        actor_hits: &Bound<'_, PyList>,
        topic_hits: &Bound<'_, PyList>,
        regex_hits: &Bound<'_, PyList>,
    ) -> PyResult<Py<PyAny>> {
        let article = self.article(text, low, title_len, ascii)?;
        article.run(py, &hits(actor_hits)?, &hits(topic_hits)?, &hits(regex_hits)?)
    }
}

fn hits(list: &Bound<'_, PyList>) -> PyResult<Vec<Hit>> {
    list.iter().map(|item| item.extract()).collect()
}
