//! Topics: the hits of every topic rule and context cue counted, the topics scored and assigned
//! (with their parents), and the evidence of each assigned topic gathered and ordered.

use crate::article::{Article, MAX_SPANS, SEPARATOR_LEN};
use crate::automata::Hit;
use crate::pymath::{exp, py_max, round4, Counts, PyOrder};
use crate::pytext::{is_alpha, is_upper};

// As in pipelines/tag_match.py: a title hit adds TITLE_WEIGHT times the weight; body hits after the
// first TOPIC_LEAD_CHARS characters count REST_CHARS / (characters after the lead) when below 1; a
// body count n weighs n up to 1, then 1 + 0.25 * (min(n, 5) - 1).
const TITLE_WEIGHT: f64 = 2.0;
pub const TOPIC_LEAD_CHARS: i64 = 600;
const REST_CHARS: i64 = 1500;
const REPEAT_STEP: f64 = 0.25;
const REPEAT_CAP: f64 = 5.0;
// ... and in a whole article (a body over UNLED_MIN_CHARS), a topic whose title and lead hits weigh
// nothing net counts UNLED_FACTOR of its evidence: a thread of the later text, not a subject.
const UNLED_MIN_CHARS: i64 = 3000;
const UNLED_FACTOR: f64 = 0.5;
const NAME_JOINERS: [&str; 2] = ["of", "for"]; // join a name's words: "Energy Embargo for Palestine"

/// The hits of every topic rule (`rule_counts`, those hidden in names taken off), each rule's hits
/// in the title and in the lead (`front`, as `[title, lead]`, parallel to `rules.items`), and the
/// topic hits inside a longer capitalised name (indexes into the hits, ascending).
pub struct TopicCounts {
    pub rules: Counts,
    front: Vec<[i64; 2]>,
    hidden_hits: Vec<usize>,
}

impl TopicCounts {
    pub fn new(rules: usize) -> Self {
        TopicCounts { rules: Counts::new(rules), front: Vec::new(), hidden_hits: Vec::new() }
    }

    /// One more hit of `rule` in the title (`lead` false) or in the lead; the rule has been counted.
    pub fn add_front(&mut self, rule: usize, lead: bool) {
        let at = self.rules.index(rule).expect("a rule is counted before its place");
        if self.front.len() <= at {
            self.front.resize(at + 1, [0, 0]);
        }
        self.front[at][usize::from(lead)] += 1;
    }

    fn front(&self, at: usize) -> [i64; 2] {
        self.front.get(at).copied().unwrap_or([0, 0])
    }
}

/// `_rest_scale`: what a body hit after the lead counts.
fn rest_scale(body_length: i64) -> f64 {
    let rest = body_length - TOPIC_LEAD_CHARS;
    if rest > REST_CHARS {
        REST_CHARS as f64 / rest as f64
    } else {
        1.0
    }
}

/// One assigned topic, before it becomes a `TopicTag`.
pub struct TopicScore {
    pub topic: usize,
    pub score: f64,                       // rounded to 4 places
    pub evidence: Vec<(i64, i64, usize)>, // (start, end, topic rule), in Span order, at most MAX_SPANS
}

/// `topic_score`: 1 - exp(-raw), 0 when raw <= 0.
fn topic_score(raw: f64) -> f64 {
    if raw <= 0.0 {
        0.0
    } else {
        1.0 - exp(-raw)
    }
}

impl Article<'_, '_> {
    /// `Tagger._count_topic_hits`: the hits of every topic rule and of every context cue; each
    /// rule's hits in the title and in the lead, and the hits hidden in a longer capitalised name.
    pub fn count_topic_hits(
        &self,
        hits: &[Hit],
        counts: &mut TopicCounts,
        cue_for: &mut [i64],
        cue_against: &mut [i64],
    ) {
        let topics = self.topics;
        let rule_counts = &mut counts.rules;
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
        let lead_end = title_end + SEPARATOR_LEN + TOPIC_LEAD_CHARS; // ... in the lead
        for (index, &(number, hit_start, hit_end)) in hits.iter().enumerate() {
            let pattern = &topics[number as usize];
            let in_title = hit_end <= title_end;
            let mut hidden: &[usize] = &pattern.hidden;
            if !hidden.is_empty() {
                let start = hit_start + pattern.start_adjust;
                if in_title
                    || !(is_upper(self.chars.at(start)) && self.in_name(start, hit_end + pattern.end_adjust))
                {
                    hidden = &[];
                } else {
                    counts.hidden_hits.push(index);
                    for &rule in hidden {
                        counts.rules.add(rule, -1.0);
                    }
                }
            }
            if hit_end <= lead_end {
                for &rule in &pattern.rules {
                    if !hidden.contains(&rule) {
                        counts.add_front(rule, !in_title);
                    }
                }
            }
        }
    }

    /// `_in_name`: is the phrase `text[start:end]`, written with a capital, part of a longer
    /// capitalised name (a capitalised word, or `of`/`for` and one, just before it or just after
    /// the word it ends in, joined by one space)?
    fn in_name(&self, start: i64, end: i64) -> bool {
        let text = &self.chars;
        let len = text.len();
        let space = ' ' as u32;
        let is_joiner = |from: i64, to: i64| {
            NAME_JOINERS.iter().any(|w| {
                w.len() as i64 == to - from
                    && w.bytes().enumerate().all(|(k, b)| text.at(from + k as i64) == b as u32)
            })
        };
        let mut before = start - 1;
        for _ in 0..2 {
            if before < 1 || text.at(before) != space || !is_alpha(text.at(before - 1)) {
                break;
            }
            let mut first = before - 1;
            while first > 0 && is_alpha(text.at(first - 1)) {
                first -= 1;
            }
            if is_upper(text.at(first)) {
                return true;
            }
            if !is_joiner(first, before) {
                break;
            }
            before = first - 1;
        }
        let mut after = end;
        while after < len && is_alpha(text.at(after)) {
            after += 1;
        }
        for _ in 0..2 {
            if after + 1 >= len || text.at(after) != space || !is_alpha(text.at(after + 1)) {
                break;
            }
            if is_upper(text.at(after + 1)) {
                return true;
            }
            let mut last = after + 1;
            while last < len && is_alpha(text.at(last)) {
                last += 1;
            }
            if !is_joiner(after + 1, last) {
                break;
            }
            after = last;
        }
        false
    }

    /// `Tagger._topic_tags` without the objects: the assigned topics, highest score first.
    pub fn score_topics(
        &self,
        topic_hits: &[Hit],
        exact_topic_hits: &[(usize, i64, i64)],
        regex_hits: &[Hit],
        counts: &TopicCounts,
    ) -> Vec<TopicScore> {
        let core = self.core;
        let (rules, topics) = (&core.topic_rules, &core.topics);
        let body_length = self.chars.len() - self.body_start;
        let scale = rest_scale(body_length);
        let mut raw = Counts::new(topics.len());
        let mut front_raw = Counts::new(topics.len()); // the rules' weights times their title and lead hits
        for (at, &(rule, count)) in counts.rules.items.iter().enumerate() {
            let [title, lead] = counts.front(at);
            let body = lead as f64 + (count - title as f64 - lead as f64) * scale;
            let mut value = if body <= 1.0 {
                body
            } else {
                1.0 + REPEAT_STEP * ((if body < REPEAT_CAP { body } else { REPEAT_CAP }) - 1.0)
            };
            if title > 0 {
                value += TITLE_WEIGHT;
            }
            raw.add(rules[rule].topic, rules[rule].weight * value);
            if title > 0 || lead > 0 {
                front_raw.add(rules[rule].topic, rules[rule].weight * (title + lead) as f64);
            }
        }
        if body_length > UNLED_MIN_CHARS {
            for (topic, value) in raw.items.iter_mut() {
                if front_raw.get(*topic).unwrap_or(0.0) <= 0.0 {
                    *value *= UNLED_FACTOR;
                }
            }
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
        for &(topic, value) in &raw.items {
            let score = if value > 0.0 { 1.0 - exp(-value) } else { 0.0 }; // topic_score, inlined as in Python
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
            return Vec::new();
        }
        // Evidence as (start, end, topic rule), sorted below as Python sorts the Span tuples.
        let mut spans: Vec<Vec<(i64, i64, usize)>> = vec![Vec::new(); topics.len()];
        let is_assigned = |topic: usize| assigned.iter().any(|a| a.0 == topic);
        for (index, &(number, hit_start, hit_end)) in topic_hits.iter().enumerate() {
            let pattern = &self.topics[number as usize];
            let hidden: &[usize] =
                if counts.hidden_hits.binary_search(&index).is_ok() { &pattern.hidden } else { &[] };
            let mut end = hit_end + pattern.end_adjust;
            if pattern.prefix {
                end = self.word_end(end + 1); // extend the evidence to the end of the word
            }
            let start = hit_start + pattern.start_adjust;
            for &rule in &pattern.rules {
                if is_assigned(rules[rule].topic) && !hidden.contains(&rule) {
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
        ordered
            .into_iter()
            .map(|(score, _, topic)| {
                let mut evidence = std::mem::take(&mut spans[topic]);
                // As Python sorts Spans: (start, end, text, via, weight); equal offsets, equal text.
                evidence.sort_by(|a, b| {
                    (a.0, a.1)
                        .cmp(&(b.0, b.1))
                        .then_with(|| rules[a.2].via.cmp(&rules[b.2].via))
                        .then_with(|| rules[a.2].weight.total_cmp_py(rules[b.2].weight))
                });
                evidence.truncate(MAX_SPANS);
                TopicScore { topic, score: -score, evidence }
            })
            .collect()
    }

    /// The last index of the word that goes on at `from` in the matching text (`_NONSPACE`).
    fn word_end(&self, from: i64) -> i64 {
        let low = &self.low;
        if self.ascii {
            // the only separator left in an ASCII matching text is the space, and it ends padded
            return low.find(' ' as u32, from) - 1;
        }
        let mut to = from.min(low.len());
        while to < low.len() && !crate::pytext::is_space(low.at(to)) {
            to += 1;
        }
        to - 1
    }
}
