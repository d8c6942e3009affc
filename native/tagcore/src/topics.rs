//! Topics: the hits of every topic rule and context cue counted, the topics scored and assigned
//! (with their parents), and the evidence of each assigned topic gathered and ordered.

use crate::article::{Article, MAX_SPANS, TITLE_FACTOR};
use crate::automata::Hit;
use crate::pymath::{exp, py_max, round4, Counts, PyOrder};

const REPEAT_STEP: f64 = 0.25; // a rule hit n times weighs 1 + 0.25 * (min(n, 5) - 1)
const REPEAT_CAP: f64 = 5.0;

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
    /// `Tagger._count_topic_hits`: the hits of every topic rule (a title hit counts TITLE_FACTOR)
    /// and of every context cue.
    pub fn count_topic_hits(
        &self,
        hits: &[Hit],
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

    /// `Tagger._topic_tags` without the objects: the assigned topics, highest score first.
    pub fn score_topics(
        &self,
        topic_hits: &[Hit],
        exact_topic_hits: &[(usize, i64, i64)],
        regex_hits: &[Hit],
        rule_counts: &Counts,
    ) -> Vec<TopicScore> {
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
        for &(number, hit_start, hit_end) in topic_hits {
            let pattern = &self.topics[number as usize];
            let mut end = hit_end + pattern.end_adjust;
            if pattern.prefix {
                end = self.word_end(end + 1); // extend the evidence to the end of the word
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
