//! The per-article rules of `pipelines.tag_match`, compiled: what `Tagger.tag` does with the hits
//! of its two automata (context rules, capitals used as places, surnames, topic scores, evidence,
//! salience) and the `TagResult` it returns.
//!
//! The Python code in pipelines/tag_match.py is the reference and this is a port of it, step by
//! step and in the same order, so that every result is identical (tests/pipelines/
//! test_tag_match_equivalence.py). Three things make "identical" hold rather than "close":
//! - floats are summed and multiplied in Python's order (first-seen order of dict keys) and `exp`
//!   and `pow` are libm's, as `math.exp` and `float ** int` use; `round(x, 4)` is `round4`;
//! - offsets are character offsets read straight from the `str` buffers (no UTF-8 copy);
//! - `isalpha`, `isupper` and `lower` use the interpreter's own Unicode tables for non-ASCII text.

use pyo3::exceptions::PyTypeError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyFloat, PyList, PyString, PyTuple, PyType};
use std::cmp::Ordering;
use std::os::raw::c_int;

extern "C" {
    // CPython's character predicates (what str.isalpha() etc. call), exported by libpython.
    fn _PyUnicode_IsAlpha(ch: u32) -> c_int;
    fn _PyUnicode_IsUppercase(ch: u32) -> c_int;
    fn _PyUnicode_IsLowercase(ch: u32) -> c_int;
    fn _PyUnicode_IsTitlecase(ch: u32) -> c_int;
    fn _PyUnicode_IsWhitespace(ch: u32) -> c_int;
    fn _PyUnicode_ToLowerFull(ch: u32, res: *mut u32) -> c_int;
    // libm's, which math.exp and float ** call: the same bits as the Python path.
    fn exp(x: f64) -> f64;
    fn pow(x: f64, y: f64) -> f64;
}

const SALIENCE_TITLE: f64 = 0.4;
const SALIENCE_LEAD: f64 = 0.25;
const SALIENCE_FREQUENCY: f64 = 0.35;
const FREQUENCY_SCALE: f64 = 3.0;
const TITLE_FACTOR: f64 = 1.5;
const REPEAT_STEP: f64 = 0.25;
const REPEAT_CAP: f64 = 5.0;
const LEAD_CHARS: i64 = 600;
const MAX_SPANS: usize = 25;
const SEPARATOR_LEN: i64 = 2;

// `_ActorPattern.role`
const NAME: u8 = 0;
const AMBIGUOUS: u8 = 1;
const SURNAME: u8 = 2;

// The word lists of pipelines/tag_match.py, passed in at build time (one source of truth).
struct Words {
    locative: Vec<String>,
    place_nouns: Vec<String>,
    state_nouns: Vec<String>,
    state_verbs: Vec<String>,
    not_a_first_name: Vec<String>,
    function_words: Vec<String>,
    following_ok: Vec<String>,
    the: Vec<String>,
}

/// `round(x, 4)` as Python computes it: the double nearest to the decimal that `x` rounds to, to
/// 4 places, ties to even on the exact binary value. `x * 1e4` is split into its rounded product
/// and the exact error (an FMA), which decides the rare cases the rounded product gets wrong.
fn round4(x: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let p = x * 10000.0;
    let err = 10000.0f64.mul_add(x, -p); // x * 1e4 == p + err exactly
    let low = p.floor();
    let d = (p - low) - 0.5; // exact: p and low are close, 0.5 is representable
    let up = if d != 0.0 {
        d > 0.0
    } else if err != 0.0 {
        err > 0.0
    } else {
        low % 2.0 != 0.0 // a true tie: to even
    };
    let n = if up { low + 1.0 } else { low };
    let r = n / 10000.0; // both exact: one correctly rounded division, as strtod gives
    if r == 0.0 {
        0.0f64.copysign(x)
    } else {
        r
    }
}

#[pyfunction]
#[pyo3(name = "round4")]
fn round4_py(x: f64) -> f64 {
    round4(x)
}

// --- characters, as Python sees them ------------------------------------------------------------

/// A `str`'s code points by index, straight from its buffer (1, 2 or 4 bytes per character).
#[derive(Clone, Copy)]
enum Chars<'a> {
    One(&'a [u8]),
    Two(&'a [u16]),
    Four(&'a [u32]),
}

impl<'a> Chars<'a> {
    fn of(text: &'a Bound<'_, PyString>) -> PyResult<Self> {
        // SAFETY: the buffer lives as long as `text`, which outlives the returned view.
        let data = unsafe { text.data()? };
        Ok(match data {
            pyo3::types::PyStringData::Ucs1(s) => Chars::One(s),
            pyo3::types::PyStringData::Ucs2(s) => Chars::Two(s),
            pyo3::types::PyStringData::Ucs4(s) => Chars::Four(s),
        })
    }

    fn len(&self) -> i64 {
        (match self {
            Chars::One(s) => s.len(),
            Chars::Two(s) => s.len(),
            Chars::Four(s) => s.len(),
        }) as i64
    }

    /// `text[i]`, negative indexes counting from the end as in Python (out of range panics).
    fn at(&self, i: i64) -> u32 {
        let i = if i < 0 { i + self.len() } else { i } as usize;
        match self {
            Chars::One(s) => s[i] as u32,
            Chars::Two(s) => s[i] as u32,
            Chars::Four(s) => s[i],
        }
    }

    /// `text.find(ch, from)`, -1 when absent.
    fn find(&self, ch: u32, from: i64) -> i64 {
        (from.max(0)..self.len()).find(|&i| self.at(i) == ch).unwrap_or(-1)
    }

    /// `text.rfind(ch, 0, end)`, -1 when absent.
    fn rfind(&self, ch: u32, end: i64) -> i64 {
        (0..end.min(self.len())).rev().find(|&i| self.at(i) == ch).unwrap_or(-1)
    }

    fn contains(&self, ch: u32) -> bool {
        self.find(ch, 0) >= 0
    }

    /// `text.startswith(prefix, at)` for an ASCII prefix.
    fn starts_with(&self, prefix: &str, at: i64) -> bool {
        at >= 0
            && at + prefix.len() as i64 <= self.len()
            && prefix.bytes().enumerate().all(|(k, b)| self.at(at + k as i64) == b as u32)
    }

    /// `text[from:to]` as a Rust string when it is ASCII (every word list is ASCII), else None.
    fn ascii(&self, from: i64, to: i64) -> Option<String> {
        (from..to).map(|i| char::from_u32(self.at(i)).filter(char::is_ascii)).collect()
    }

    /// `text[from:to] in words` (case-sensitive).
    fn word_in(&self, from: i64, to: i64, words: &[String]) -> bool {
        self.ascii(from, to).is_some_and(|w| words.contains(&w))
    }

    /// `text[from:to].lower() in words`. A non-ASCII letter whose lower case is not ASCII cannot
    /// make an ASCII word, so the capital-sigma rule of str.lower() needs no port.
    fn lower_in(&self, from: i64, to: i64, words: &[String]) -> bool {
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
    fn is_upper(&self, from: i64, to: i64) -> bool {
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

fn is_alpha(c: u32) -> bool {
    if c < 128 {
        (c as u8).is_ascii_alphabetic()
    } else {
        unsafe { _PyUnicode_IsAlpha(c) != 0 }
    }
}

fn is_upper(c: u32) -> bool {
    if c < 128 {
        (c as u8).is_ascii_uppercase()
    } else {
        unsafe { _PyUnicode_IsUppercase(c) != 0 }
    }
}

fn is_lower_or_title(c: u32) -> bool {
    if c < 128 {
        (c as u8).is_ascii_lowercase()
    } else {
        unsafe { _PyUnicode_IsLowercase(c) != 0 || _PyUnicode_IsTitlecase(c) != 0 }
    }
}

/// `\s` of Python's `re` on `str` (Py_UNICODE_ISSPACE).
fn is_space(c: u32) -> bool {
    if c < 128 {
        matches!(c, 9..=13 | 28..=32)
    } else {
        unsafe { _PyUnicode_IsWhitespace(c) != 0 }
    }
}

/// `text[start:end]` with Python's slice rules.
fn substring(py: Python<'_>, text: &Bound<'_, PyString>, start: i64, end: i64) -> PyResult<Py<PyAny>> {
    let len = text.len()? as i64;
    let clamp = |i: i64| if i < 0 { (i + len).max(0) } else { i.min(len) };
    let (start, end) = (clamp(start), clamp(end));
    // SAFETY: valid str and in-range indexes (an empty range gives "").
    unsafe {
        let obj = ffi::PyUnicode_Substring(text.as_ptr(), start as ffi::Py_ssize_t, end as ffi::Py_ssize_t);
        Ok(Bound::from_owned_ptr_or_err(py, obj)?.unbind())
    }
}

/// An instance of a NamedTuple class, as `tuple.__new__(cls, items)` makes it (its Python-level
/// `__new__` is skipped, which is what the Python path does too).
fn named<const N: usize>(py: Python<'_>, cls: &Py<PyType>, items: [Py<PyAny>; N]) -> PyResult<Py<PyAny>> {
    // SAFETY: `cls` was checked to subclass tuple at build time, so its instances are tuples of N
    // slots; every slot is filled before the object is used.
    unsafe {
        let tp = cls.as_ptr() as *mut ffi::PyTypeObject;
        let alloc = (*tp).tp_alloc.unwrap_or(ffi::PyType_GenericAlloc);
        let obj = alloc(tp, N as ffi::Py_ssize_t);
        if obj.is_null() {
            return Err(PyErr::fetch(py));
        }
        for (i, item) in items.into_iter().enumerate() {
            ffi::PyTuple_SET_ITEM(obj, i as ffi::Py_ssize_t, item.into_ptr());
        }
        Ok(Bound::from_owned_ptr(py, obj).unbind())
    }
}

fn int(py: Python<'_>, value: i64) -> Py<PyAny> {
    value.into_pyobject(py).expect("int conversion").into_any().unbind()
}

fn float(py: Python<'_>, value: f64) -> Py<PyAny> {
    PyFloat::new(py, value).into_any().unbind()
}

fn py_max(a: f64, b: f64) -> f64 {
    if b > a {
        b
    } else {
        a
    }
}

/// A dict of counts that remembers first insertion, as Python's does (float sums follow it).
struct Counts {
    slot: Vec<u32>,
    items: Vec<(usize, f64)>,
}

impl Counts {
    fn new(size: usize) -> Self {
        Counts { slot: vec![u32::MAX; size], items: Vec::new() }
    }

    /// `counts[key] = counts.get(key, 0.0) + value`
    fn add(&mut self, key: usize, value: f64) {
        match self.slot[key] {
            u32::MAX => {
                self.slot[key] = self.items.len() as u32;
                self.items.push((key, 0.0 + value));
            }
            at => self.items[at as usize].1 += value,
        }
    }

    fn get(&self, key: usize) -> Option<f64> {
        match self.slot[key] {
            u32::MAX => None,
            at => Some(self.items[at as usize].1),
        }
    }
}

// --- the build-time tables ----------------------------------------------------------------------

struct ActorPattern {
    start_adjust: i64,
    end_adjust: i64,
    special: bool, // not _PLAIN
    role: u8,
    actor: i64,
    rule: i64,
    via: u32, // interned `via`, compared by the capital-as-surname rule
    place: bool,
    via_upper: bool,             // via.isupper()
    via_the: bool,               // via.lower().startswith("the ")
    surnames: Vec<(i64, usize)>, // (person, entry of that surname)
    topic_rules: Vec<usize>,
}

struct Entry {
    actor: i64,
    weight: f64,
    weight_obj: Py<PyAny>,
    via: Py<PyAny>,
}

struct ActorFlavour {
    uniform: bool,
    patterns: Vec<ActorPattern>,
    entries: Vec<Entry>,
}

struct TopicPattern {
    start_adjust: i64,
    end_adjust: i64,
    prefix: bool,
    rules: Vec<usize>,
    cues: Vec<(usize, i64)>,
    single_rule: i64,
    complex: bool,
}

struct TopicRule {
    topic: usize,
    via: String,
    via_obj: Py<PyAny>,
    weight: f64,
    weight_obj: Py<PyAny>,
}

struct Topic {
    id: String,
    id_obj: Py<PyAny>,
    label: Py<PyAny>,
    threshold: f64,
    parent: i64,
}

struct Actor {
    id: String,
    info: [Py<PyAny>; 4], // id, name, kind, country (str or None)
    country: i64,         // interned country code, -1 for None
    adds_country: bool,   // its kind puts its country into TagResult.countries
    is_country: bool,     // a country or territory (a team in a sport report)
}

struct Rule {
    default: bool,
    name_neighbour: bool,
    support_countries: Vec<usize>,
    against_countries: Vec<usize>,
    support_actors: Vec<usize>,
}

/// What one `Tagger` knows, in flat tables; `tag()` reads it and mutates nothing.
#[pyclass(frozen, module = "tagcore")]
struct Core {
    classes: [Py<PyType>; 4], // Span, ActorTag, TopicTag, TagResult
    versions: [Py<PyAny>; 2],
    actors: Vec<Actor>,
    countries: usize,
    topics: Vec<Topic>,
    topic_rules: Vec<TopicRule>,
    rules: Vec<Rule>,
    sport_topic: i64,
    flavours: [(ActorFlavour, Vec<TopicPattern>); 2], // [ASCII, general]
    words: Words,
}

type ActorPatternArgs = (i64, i64, bool, u8, i64, i64, u32, bool, bool, bool, Vec<(i64, usize)>, Vec<usize>);
type EntryArgs = (i64, Py<PyAny>, Py<PyAny>); // actor, weight, via
type TopicPatternArgs = (i64, i64, bool, Vec<usize>, Vec<(usize, i64)>, i64, bool);
type TopicArgs = (String, Py<PyAny>, Py<PyAny>, f64, i64); // id, id, label, threshold, parent
type RuleArgs = (bool, bool, Vec<usize>, Vec<usize>, Vec<usize>); // see `Rule`
type FlavourArgs = (bool, Vec<ActorPatternArgs>, Vec<EntryArgs>, Vec<TopicPatternArgs>);

fn flavour(py: Python<'_>, args: FlavourArgs) -> PyResult<(ActorFlavour, Vec<TopicPattern>)> {
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
                place: p.7,
                via_upper: p.8,
                via_the: p.9,
                surnames: p.10,
                topic_rules: p.11,
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
        })
        .collect();
    Ok((actors, topics))
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
        words: [Vec<String>; 7],
    ) -> PyResult<Self> {
        for cls in &classes {
            if !cls.bind(py).is_subclass_of::<PyTuple>()? {
                return Err(PyTypeError::new_err("tagcore.Core: the result classes must be NamedTuples"));
            }
        }
        let [locative, place_nouns, state_nouns, state_verbs, not_a_first_name, function_words, following_ok] =
            words;
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
            flavours: [flavour(py, ascii)?, flavour(py, general)?],
            words: Words {
                locative,
                place_nouns,
                state_nouns,
                state_verbs,
                not_a_first_name,
                function_words,
                following_ok,
                the: vec!["the".to_string()],
            },
        })
    }

    /// `(padded[::-1], padded.lower())` of `Tagger.tag` in one pass, for a text that is ASCII once
    /// mapped (`_map_bytes`: ASCII non-alphanumerics and the punctuation of U+2000-U+206F and of
    /// Latin-1 become spaces); None for any other text, which Python maps itself.
    fn map_ascii<'py>(&self, py: Python<'py>, text: &Bound<'py, PyString>) -> PyResult<Option<Py<PyTuple>>> {
        let chars = Chars::of(text)?;
        let n = chars.len() as usize;
        let mut backwards = vec![b' '; n + 2];
        let mut lowered = vec![b' '; n + 2];
        for i in 0..n {
            let c = chars.at(i as i64);
            let byte = match c {
                0x30..=0x39 | 0x41..=0x5a | 0x61..=0x7a => c as u8,
                0..=0x7f | 0x2000..=0x206f | 0xa0..=0xa9 | 0xab..=0xb4 | 0xb6..=0xb9 | 0xbb..=0xbf => b' ',
                _ => return Ok(None),
            };
            backwards[n - i] = byte;
            lowered[i + 1] = byte.to_ascii_lowercase();
        }
        let pair = (PyBytes::new(py, &backwards), PyBytes::new(py, &lowered));
        Ok(Some(pair.into_pyobject(py)?.unbind()))
    }

    /// `Tagger.tag` after the automata: the same `TagResult`, from the same inputs.
    ///
    /// `low` is the lower-cased padded matching text; `ascii` says which automata (and tables) ran;
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
        let (actors, topics) = &self.flavours[if ascii { 0 } else { 1 }];
        let article = Article {
            core: self,
            actors,
            topics,
            text,
            chars: Chars::of(text)?,
            low: Chars::of(low)?,
            title_len,
            body_start: title_len + SEPARATOR_LEN,
            ascii,
        };
        article.run(py, &hits(actor_hits)?, &hits(topic_hits)?, &hits(regex_hits)?)
    }
}

fn hits(list: &Bound<'_, PyList>) -> PyResult<Vec<(i64, i64, i64)>> {
    list.iter().map(|item| item.extract()).collect()
}

/// A mention: (start, end, entry), ordered as Python orders the tuples.
type Mention = (i64, i64, usize);

/// The per-article state of one `tag()` call.
struct Article<'a, 'py> {
    core: &'a Core,
    actors: &'a ActorFlavour,
    topics: &'a [TopicPattern],
    text: &'a Bound<'py, PyString>,
    chars: Chars<'a>,
    low: Chars<'a>,
    title_len: i64,
    body_start: i64,
    ascii: bool,
}

impl Article<'_, '_> {
    fn run(
        &self,
        py: Python<'_>,
        actor_hits: &[(i64, i64, i64)],
        topic_hits: &[(i64, i64, i64)],
        regex_hits: &[(i64, i64, i64)],
    ) -> PyResult<Py<PyAny>> {
        let core = self.core;
        let length = self.chars.len() + 2; // of the padded matching text
        let patterns = &self.actors.patterns;
        // Reading order, at a word start (see Tagger.tag).
        let mut hits: Vec<Mention> = Vec::with_capacity(actor_hits.len());
        for &(number, hit_start, hit_end) in actor_hits.iter().rev() {
            let (start_adjust, end_adjust) = if self.actors.uniform {
                (-1, -2)
            } else {
                let p = &patterns[number as usize];
                (p.start_adjust, p.end_adjust)
            };
            let start = length - hit_end + start_adjust;
            if end_adjust == -2 && self.low.at(start) != ' ' as u32 {
                continue;
            }
            hits.push((start, length - hit_start + end_adjust, number as usize));
        }

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
        let topic_tags = if rule_counts.items.is_empty() {
            Vec::new()
        } else {
            self.topic_tags(py, topic_hits, &exact_topic_hits, regex_hits, &rule_counts)?
        };
        let sport = topic_tags.iter().any(|(topic, _)| *topic as i64 == core.sport_topic);
        if !accepted.is_empty() && (self.chars.contains('$' as u32) || sport) {
            // "US$ 20,000": a currency; in a sport report, country names are teams.
            let chars = &self.chars;
            accepted.retain(|m| m.1 >= chars.len() || chars.at(m.1) != '$' as u32);
            if sport {
                let entries = &self.actors.entries;
                accepted.retain(|m| !core.actors[entries[m.2].actor as usize].is_country);
            }
        }
        let actor_tags = if accepted.is_empty() { Vec::new() } else { self.aggregate(py, &accepted)? };

        let mut countries: Vec<i64> = Vec::new();
        let mut country_objs: Vec<Py<PyAny>> = Vec::new();
        for &(actor, _) in &actor_tags {
            let a = &core.actors[actor];
            if a.adds_country && a.country >= 0 && !countries.contains(&a.country) {
                countries.push(a.country);
                country_objs.push(a.info[3].clone_ref(py));
            }
        }
        let tuple = |items: Vec<Py<PyAny>>| -> PyResult<Py<PyAny>> {
            Ok(PyTuple::new(py, items)?.into_any().unbind())
        };
        let actor_ids = actor_tags.iter().map(|(a, _)| core.actors[*a].info[0].clone_ref(py)).collect();
        let actor_names = actor_tags.iter().map(|(a, _)| core.actors[*a].info[1].clone_ref(py)).collect();
        let topic_ids = topic_tags.iter().map(|(t, _)| core.topics[*t].id_obj.clone_ref(py)).collect();
        named(
            py,
            &core.classes[3],
            [
                tuple(actor_tags.into_iter().map(|(_, tag)| tag).collect())?,
                tuple(topic_tags.into_iter().map(|(_, tag)| tag).collect())?,
                tuple(actor_ids)?,
                tuple(actor_names)?,
                tuple(country_objs)?,
                tuple(topic_ids)?,
                core.versions[0].clone_ref(py),
                core.versions[1].clone_ref(py),
            ],
        )
    }

    /// `Tagger._count_topic_hits`
    fn count_topic_hits(
        &self,
        hits: &[(i64, i64, i64)],
        rule_counts: &mut Counts,
        cue_for: &mut [i64],
        cue_against: &mut [i64],
    ) {
        let topics = self.topics;
        for &(number, _, _) in hits {
            let single = topics[number as usize].single_rule;
            if single >= 0 {
                rule_counts.add(single as usize, 1.0);
            }
        }
        let mut complex: Vec<usize> =
            hits.iter().map(|h| h.0 as usize).filter(|&n| topics[n].complex).collect();
        if !complex.is_empty() {
            complex.sort_unstable();
            for group in complex.chunk_by(|a, b| a == b) {
                let pattern = &topics[group[0]];
                let count = group.len() as i64;
                for &rule in &pattern.rules {
                    rule_counts.add(rule, count as f64);
                }
                for &(rule, sign) in &pattern.cues {
                    if sign > 0 {
                        cue_for[rule] += count;
                    } else {
                        cue_against[rule] += count;
                    }
                }
            }
        }
        let title_end = self.title_len + 2; // a hit ending here or before is in the title
        for &(number, _, hit_end) in hits {
            if hit_end > title_end {
                break;
            }
            for &rule in &topics[number as usize].rules {
                rule_counts.add(rule, TITLE_FACTOR - 1.0);
            }
        }
    }

    /// `Tagger._resolve_others`: ambiguous names, capitals, surnames and case-exact topic hits.
    fn resolve_others(
        &self,
        hits: Vec<Mention>,
        cue_for: &[i64],
        cue_against: &[i64],
        rule_counts: &mut Counts,
        exact_topic_hits: &mut Vec<(usize, i64, i64)>,
    ) -> Vec<Mention> {
        let (patterns, entries) = (&self.actors.patterns, &self.actors.entries);
        let mut accepted: Vec<Mention> = hits.iter().copied().filter(|h| !patterns[h.2].special).collect();
        let mut ambiguous: Vec<Mention> = Vec::new();
        let mut places: Vec<Mention> = Vec::new();
        let mut surnames: Vec<Mention> = Vec::new(); // entry = the pattern number
        let mut unsorted = false;
        for &hit in hits.iter().filter(|h| patterns[h.2].special) {
            let (start, end, number) = hit;
            let pattern = &patterns[number];
            for &rule in &pattern.topic_rules {
                exact_topic_hits.push((rule, start, end));
                rule_counts.add(rule, if start < self.body_start { TITLE_FACTOR } else { 1.0 });
            }
            match pattern.role {
                SURNAME => surnames.push(hit),
                AMBIGUOUS => ambiguous.push(hit),
                NAME if pattern.place => places.push(hit),
                NAME => {
                    accepted.push(hit);
                    unsorted = true;
                }
                _ => {}
            }
        }
        if ambiguous.is_empty() && surnames.is_empty() && places.is_empty() {
            if unsorted {
                accepted.sort_unstable();
            }
            return accepted;
        }
        if !places.is_empty() || ambiguous.iter().any(|h| patterns[h.2].place) {
            let candidates: Vec<Mention> = places.iter().chain(ambiguous.iter()).copied().collect();
            let place_use = PlaceUse::new(self, &accepted, &candidates);
            accepted.extend(places.iter().copied().filter(|h| !place_use.is_place(h)));
            ambiguous.retain(|h| !(patterns[h.2].place && place_use.is_place(h)));
        }
        if !ambiguous.is_empty() {
            let core = self.core;
            let mut actor_count = vec![0i64; core.actors.len()];
            for hit in &accepted {
                actor_count[entries[hit.2].actor as usize] += 1;
            }
            let mut country_count = vec![0i64; core.countries];
            for (actor, &count) in actor_count.iter().enumerate() {
                let code = core.actors[actor].country;
                if count > 0 && code >= 0 {
                    country_count[code as usize] += count;
                }
            }
            for &hit in &ambiguous {
                if self.context_accepts(hit, &actor_count, &country_count, cue_for, cue_against) {
                    accepted.push(hit); // the entry of a pattern is its number
                } else if !patterns[hit.2].surnames.is_empty() {
                    surnames.push(hit);
                }
            }
        }
        if !surnames.is_empty() {
            let known = accepted.len(); // the full names; surnames resolved here do not count
            let text_len = self.chars.len();
            for &(start, end, number) in &surnames {
                let (mut best_entry, mut best_at) = (usize::MAX, -1i64);
                for &(person, entry) in &patterns[number].surnames {
                    let seen = accepted[..known].iter().filter(|m| entries[m.2].actor == person).map(|m| m.0);
                    let at = if start < self.body_start {
                        // a headline surname: the full name anywhere will do
                        match seen.min() {
                            Some(first) => text_len - first,
                            None => continue,
                        }
                    } else {
                        match seen.filter(|&s| s < start).max() {
                            Some(last) => last,
                            None => continue,
                        }
                    };
                    if at > best_at {
                        (best_entry, best_at) = (entry, at);
                    }
                }
                if best_entry != usize::MAX {
                    accepted.push((start, end, best_entry));
                }
            }
        }
        accepted.sort_unstable();
        accepted
    }

    /// `Tagger._context_accepts`
    fn context_accepts(
        &self,
        (start, end, number): Mention,
        actor_count: &[i64],
        country_count: &[i64],
        cue_for: &[i64],
        cue_against: &[i64],
    ) -> bool {
        let core = self.core;
        let pattern = &self.actors.patterns[number];
        let (actor, r) = (pattern.actor as usize, pattern.rule as usize);
        let rule = &core.rules[r];
        if start >= self.body_start
            && (rule.name_neighbour || pattern.via_upper)
            && self.in_longer_name(start, end)
        {
            return false;
        }
        let own = actor_count[actor];
        let mut support = cue_for[r] + own;
        let code = core.actors[actor].country;
        if code >= 0 {
            support += country_count[code as usize] - own;
        }
        support += rule.support_countries.iter().map(|&c| country_count[c]).sum::<i64>();
        support += rule.support_actors.iter().map(|&a| actor_count[a]).sum::<i64>();
        let against = cue_against[r] + rule.against_countries.iter().map(|&c| country_count[c]).sum::<i64>();
        support > against || (support == against && rule.default)
    }

    /// `_word_before`: the range of the word directly before `start`, one space between.
    fn word_before(&self, start: i64) -> (i64, i64) {
        let t = &self.chars;
        if start < 2 || t.at(start - 1) != ' ' as u32 || !is_alpha(t.at(start - 2)) {
            return (0, 0);
        }
        let mut from = start - 2;
        while from > 0 && is_alpha(t.at(from - 1)) {
            from -= 1;
        }
        (from, start - 1)
    }

    /// `_word_after`: the range of the word directly after `end - 1`, one space between.
    fn word_after(&self, end: i64) -> (i64, i64) {
        let t = &self.chars;
        if end + 1 >= t.len() || t.at(end) != ' ' as u32 {
            return (0, 0);
        }
        let mut to = end + 1;
        while to < t.len() && is_alpha(t.at(to)) {
            to += 1;
        }
        (end + 1, to)
    }

    /// `_in_longer_name`
    fn in_longer_name(&self, start: i64, end: i64) -> bool {
        let (t, words) = (&self.chars, &self.core.words);
        let shout = t.is_upper(start, end) && end - start <= 3;
        if start >= 2 && t.at(start - 1) == ' ' as u32 && is_alpha(t.at(start - 2)) {
            let from = t.rfind(' ' as u32, start - 1).max(t.rfind('\n' as u32, start - 1)) + 1;
            let to = start - 1;
            if shout && to - from > 1 && t.is_upper(from, to) {
                return true;
            }
            if !shout && to > from && is_upper(t.at(from)) && !t.word_in(from, to, &words.function_words) {
                return true;
            }
        }
        if end + 1 < t.len() && t.at(end) == ' ' as u32 && is_alpha(t.at(end + 1)) {
            let mut to = end + 1;
            while to < t.len() && is_alpha(t.at(to)) {
                to += 1;
            }
            let from = end + 1;
            if shout && to - from > 1 && t.is_upper(from, to) {
                return true;
            }
            if !shout && to > from && is_upper(t.at(from)) && !t.word_in(from, to, &words.following_ok) {
                return true;
            }
        }
        false
    }

    /// `Tagger._topic_tags`: (topic, TopicTag) of the assigned topics, highest score first.
    fn topic_tags(
        &self,
        py: Python<'_>,
        topic_hits: &[(i64, i64, i64)],
        exact_topic_hits: &[(usize, i64, i64)],
        regex_hits: &[(i64, i64, i64)],
        rule_counts: &Counts,
    ) -> PyResult<Vec<(usize, Py<PyAny>)>> {
        let core = self.core;
        let (rules, topics) = (&core.topic_rules, &core.topics);
        let mut raw = Counts::new(topics.len());
        for &(rule, count) in &rule_counts.items {
            let capped = if count < REPEAT_CAP { count } else { REPEAT_CAP };
            raw.add(rules[rule].topic, rules[rule].weight * (1.0 + REPEAT_STEP * (capped - 1.0)));
        }
        let mut assigned: Vec<(usize, f64)> = Vec::new();
        let mut slot = vec![usize::MAX; topics.len()];
        let mut assign = |topic: usize, value: f64, assigned: &mut Vec<(usize, f64)>| {
            if slot[topic] == usize::MAX {
                slot[topic] = assigned.len();
                assigned.push((topic, value));
            } else {
                assigned[slot[topic]].1 = value;
            }
        };
        let topic_score = |raw: f64| {
            if raw <= 0.0 {
                0.0
            } else {
                1.0 - unsafe { exp(-raw) }
            }
        };
        for &(topic, value) in &raw.items {
            let score = if value > 0.0 { 1.0 - unsafe { exp(-value) } } else { 0.0 };
            if score >= topics[topic].threshold {
                let old = assigned.iter().find(|a| a.0 == topic).map_or(0.0, |a| a.1);
                assign(topic, py_max(score, old), &mut assigned);
                let mut parent = topics[topic].parent;
                while parent >= 0 {
                    // a parent is assigned with its child, at least at the child's score
                    let p = parent as usize;
                    let old = assigned.iter().find(|a| a.0 == p).map_or(0.0, |a| a.1);
                    let value = py_max(py_max(old, score), topic_score(raw.get(p).unwrap_or(0.0)));
                    assign(p, value, &mut assigned);
                    parent = topics[p].parent;
                }
            }
        }
        if assigned.is_empty() {
            return Ok(Vec::new());
        }
        // Evidence as (start, end, topic rule), sorted below as Python sorts the Span tuples.
        let mut spans: Vec<Vec<(i64, i64, usize)>> = vec![Vec::new(); topics.len()];
        let is_assigned = |topic: usize| assigned.iter().any(|a| a.0 == topic);
        for &(number, hit_start, hit_end) in topic_hits {
            let pattern = &self.topics[number as usize];
            let mut end = hit_end + pattern.end_adjust;
            if pattern.prefix {
                // extend the evidence to the end of the word
                end = if self.ascii {
                    self.low.find(' ' as u32, end + 1) - 1
                } else {
                    let mut to = (end + 1).min(self.low.len());
                    while to < self.low.len() && !is_space(self.low.at(to)) {
                        to += 1;
                    }
                    to - 1
                };
            }
            let start = hit_start + pattern.start_adjust;
            for &rule in &pattern.rules {
                if is_assigned(rules[rule].topic) {
                    spans[rules[rule].topic].push((start, end, rule));
                }
            }
        }
        let extra =
            exact_topic_hits.iter().copied().chain(regex_hits.iter().map(|&(r, s, e)| (r as usize, s, e)));
        for (rule, start, end) in extra {
            if is_assigned(rules[rule].topic) {
                spans[rules[rule].topic].push((start, end, rule));
            }
        }
        let mut ordered: Vec<(f64, &str, usize)> = assigned
            .iter()
            .map(|&(topic, score)| (-round4(score), topics[topic].id.as_str(), topic))
            .collect();
        ordered.sort_by(|a, b| a.0.total_cmp_py(b.0).then_with(|| a.1.cmp(b.1)).then_with(|| a.2.cmp(&b.2)));
        let mut tags = Vec::with_capacity(ordered.len());
        for (score, _, topic) in ordered {
            let found = &mut spans[topic];
            found.sort_by(|a, b| {
                (a.0, a.1)
                    .cmp(&(b.0, b.1))
                    .then_with(|| rules[a.2].via.cmp(&rules[b.2].via))
                    .then_with(|| rules[a.2].weight.total_cmp_py(rules[b.2].weight))
            });
            let evidence = found
                .iter()
                .take(MAX_SPANS)
                .map(|&(start, end, rule)| {
                    let r = &rules[rule];
                    self.span(py, start, end, r.via_obj.clone_ref(py), r.weight_obj.clone_ref(py))
                })
                .collect::<PyResult<Vec<_>>>()?;
            let t = &topics[topic];
            let tag = named(
                py,
                &core.classes[2],
                [
                    t.id_obj.clone_ref(py),
                    t.label.clone_ref(py),
                    float(py, -score),
                    PyTuple::new(py, evidence)?.into_any().unbind(),
                ],
            )?;
            tags.push((topic, tag));
        }
        Ok(tags)
    }

    fn span(
        &self,
        py: Python<'_>,
        start: i64,
        end: i64,
        via: Py<PyAny>,
        weight: Py<PyAny>,
    ) -> PyResult<Py<PyAny>> {
        named(
            py,
            &self.core.classes[0],
            [int(py, start), int(py, end), substring(py, self.text, start, end)?, via, weight],
        )
    }

    /// `Tagger._aggregate`: (actor, ActorTag) per actor, most salient first.
    fn aggregate(&self, py: Python<'_>, accepted: &[Mention]) -> PyResult<Vec<(usize, Py<PyAny>)>> {
        let core = self.core;
        let entries = &self.actors.entries;
        let len = self.chars.len();
        let lead_end = match self.chars.find('\n' as u32, self.body_start) {
            -1 => len,
            at => at,
        }
        .min(self.body_start + LEAD_CHARS);
        // Per actor, in order of first mention: spans, mentions, sum of weights, product of misses.
        struct Acc {
            actor: usize,
            spans: Vec<Py<PyAny>>,
            first: i64,
            mentions: i64,
            total: f64,
            miss: f64,
            title_best: f64,
            lead_best: f64,
        }
        let mut slot = vec![usize::MAX; core.actors.len()];
        let mut accs: Vec<Acc> = Vec::new();
        for &(start, end, entry) in accepted {
            let e = &entries[entry];
            let actor = e.actor as usize;
            if slot[actor] == usize::MAX {
                slot[actor] = accs.len();
                accs.push(Acc {
                    actor,
                    spans: Vec::new(),
                    first: start,
                    mentions: 0,
                    total: 0.0,
                    miss: 1.0,
                    title_best: 0.0,
                    lead_best: 0.0,
                });
            }
            let acc = &mut accs[slot[actor]];
            if acc.spans.len() < MAX_SPANS {
                acc.spans.push(self.span(py, start, end, e.via.clone_ref(py), e.weight_obj.clone_ref(py))?);
            }
        }
        // Counted per entry in order of first mention, then folded into the actor: Python's order.
        let mut entry_slot: Vec<(usize, i64)> = Vec::new();
        for &(_, _, entry) in accepted {
            match entry_slot.iter_mut().find(|(e, _)| *e == entry) {
                Some((_, count)) => *count += 1,
                None => entry_slot.push((entry, 1)),
            }
        }
        for (entry, count) in entry_slot {
            let e = &entries[entry];
            let acc = &mut accs[slot[e.actor as usize]];
            acc.mentions += count;
            acc.total += e.weight * count as f64;
            acc.miss *= unsafe { pow(1.0 - e.weight, count as f64) };
        }
        for &(start, _, entry) in accepted {
            if start >= lead_end {
                break;
            }
            let e = &entries[entry];
            let acc = &mut accs[slot[e.actor as usize]];
            let best = if start < self.body_start { &mut acc.title_best } else { &mut acc.lead_best };
            if e.weight > *best {
                *best = e.weight;
            }
        }
        let mut tags: Vec<(f64, i64, &str, usize, Py<PyAny>)> = Vec::with_capacity(accs.len());
        for acc in accs {
            let frequency = 1.0 - unsafe { exp(-acc.total / FREQUENCY_SCALE) };
            let salience = round4(
                SALIENCE_TITLE * acc.title_best
                    + SALIENCE_LEAD * acc.lead_best
                    + SALIENCE_FREQUENCY * frequency,
            );
            let a = &core.actors[acc.actor];
            let [id, name, kind, country] = &a.info;
            let tag = named(
                py,
                &core.classes[1],
                [
                    id.clone_ref(py),
                    name.clone_ref(py),
                    kind.clone_ref(py),
                    country.clone_ref(py),
                    int(py, acc.mentions),
                    float(py, salience),
                    float(py, round4(1.0 - acc.miss)),
                    PyTuple::new(py, acc.spans)?.into_any().unbind(),
                ],
            )?;
            tags.push((-salience, acc.first, a.id.as_str(), acc.actor, tag));
        }
        // As Python sorts (-salience, first start, id, tag); the first three always differ.
        tags.sort_by(|a, b| a.0.total_cmp_py(b.0).then_with(|| a.1.cmp(&b.1)).then_with(|| a.2.cmp(b.2)));
        Ok(tags.into_iter().map(|(_, _, _, actor, tag)| (actor, tag)).collect())
    }
}

/// `_PlaceUse`: tells a capital used as the state from a capital used as a place.
struct PlaceUse<'s, 'a, 'py> {
    article: &'s Article<'a, 'py>,
    actor_at: Vec<(i64, i64)>, // (start, actor) of the accepted mentions
    mention_ends: Vec<i64>,
    surnames: Vec<u32>, // interned vias seen as a person's surname
}

impl<'s, 'a, 'py> PlaceUse<'s, 'a, 'py> {
    fn new(article: &'s Article<'a, 'py>, accepted: &[Mention], candidates: &[Mention]) -> Self {
        let (patterns, entries) = (&article.actors.patterns, &article.actors.entries);
        let actor_at = accepted.iter().map(|m| (m.0, entries[m.2].actor)).collect();
        let mention_ends: Vec<i64> = accepted.iter().chain(candidates).map(|m| m.1).collect();
        let t = &article.chars;
        let words = &article.core.words;
        let mut surnames = Vec::new();
        for &(start, _, number) in candidates {
            let pattern = &patterns[number];
            if pattern.place && start >= article.body_start {
                let (from, to) = article.word_before(start);
                if to > from
                    && is_upper(t.at(from))
                    && !t.word_in(from, to, &words.not_a_first_name)
                    && !mention_ends.contains(&(start - 1))
                {
                    surnames.push(pattern.via);
                }
            }
        }
        PlaceUse { article, actor_at, mention_ends, surnames }
    }

    fn is_place(&self, &(start, end, number): &Mention) -> bool {
        let article = self.article;
        let (t, words) = (&article.chars, &article.core.words);
        let pattern = &article.actors.patterns[number];
        if self.surnames.contains(&pattern.via) {
            return true;
        }
        let before = article.word_before(start);
        let after = article.word_after(end);
        if t.lower_in(after.0, after.1, &words.state_verbs) {
            return false;
        }
        if t.lower_in(before.0, before.1, &words.locative) || t.lower_in(after.0, after.1, &words.place_nouns)
        {
            return true;
        }
        if t.lower_in(before.0, before.1, &words.the)
            && !pattern.via_the
            && !t.lower_in(after.0, after.1, &words.state_nouns)
        {
            return true;
        }
        // "Taipei, Taiwan" (the last mention at that start, as a dict keeps it)
        if t.starts_with(", ", end)
            && self.actor_at.iter().rev().find(|m| m.0 == end + 2).is_some_and(|m| m.1 == pattern.actor)
        {
            return true;
        }
        if start >= 3
            && t.starts_with(", ", start - 2)
            && is_alpha(t.at(start - 3))
            && !self.mention_ends.contains(&(start - 2))
        {
            let mut head = start - 3;
            while head > 0 && is_alpha(t.at(head - 1)) {
                head -= 1;
            }
            if is_upper(t.at(head)) {
                return true; // "Seattle, Washington"
            }
        }
        start >= article.body_start && article.in_longer_name(start, end)
    }
}

/// Python's `<` on floats, as a sort order (no NaN reaches a sort here).
trait PyOrder {
    fn total_cmp_py(self, other: f64) -> Ordering;
}

impl PyOrder for f64 {
    fn total_cmp_py(self, other: f64) -> Ordering {
        self.partial_cmp(&other).unwrap_or(Ordering::Equal)
    }
}

#[pymodule]
fn tagcore(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Core>()?;
    m.add_function(wrap_pyfunction!(round4_py, m)?)?;
    Ok(())
}
