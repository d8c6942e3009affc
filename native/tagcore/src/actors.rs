//! Which actor hits are mentions: a name at a word start, an ambiguous name with enough context
//! (`ContextRule`), a capital not used as a place, a surname after the full name; then currencies
//! and sport teams are dropped, and the mentions are summed up per actor (salience, confidence).

use crate::article::{Article, Mention, MAX_SPANS};
use crate::automata::Hit;
use crate::places::PlaceUse;
use crate::pymath::{exp, pow, round4, PyOrder};
use crate::tables::{AMBIGUOUS, NAME, SURNAME};

const SALIENCE_TITLE: f64 = 0.4;
const SALIENCE_LEAD: f64 = 0.25;
const SALIENCE_FREQUENCY: f64 = 0.35;
const FREQUENCY_SCALE: f64 = 3.0; // sum of mention weights at which frequency reaches 1 - 1/e
const LEAD_CHARS: i64 = 600; // the lead is the body's first paragraph, at most this long

/// One actor's tag, before it becomes an `ActorTag`.
pub struct ActorSummary {
    pub actor: usize,
    pub mentions: i64,
    pub salience: f64,
    pub confidence: f64,
    pub spans: Vec<Mention>, // the first MAX_SPANS, in reading order
}

impl Article<'_, '_> {
    /// The actor automaton's hits (over the reversed text) as mentions in reading order, each at a
    /// word start: the key is padded after the name only, so the space before is checked here.
    pub fn mentions(&self, actor_hits: &[Hit]) -> Vec<Mention> {
        let length = self.chars.len() + 2; // of the padded matching text
        let patterns = &self.actors.patterns;
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
                continue; // not "Prussia" for "Russia"
            }
            hits.push((start, length - hit_start + end_adjust, number as usize));
        }
        hits
    }

    /// `Tagger._resolve_others`: ambiguous names, capitals, surnames and case-exact topic hits.
    pub fn resolve_others(
        &self,
        hits: Vec<Mention>,
        cue_for: &[i64],
        cue_against: &[i64],
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
            }
            match pattern.role {
                SURNAME => surnames.push(hit),
                AMBIGUOUS => ambiguous.push(hit),
                NAME if pattern.place => places.push(hit),
                NAME => {
                    accepted.push(hit);
                    accepted
                        .extend(pattern.nested.iter().map(|&(a, b, entry)| (start + a, start + b, entry)));
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

    /// `Tagger._drop_non_states`: "US$ 20,000" is a currency; in a sport report, country names are
    /// teams ("Sweden defeated South Korea 1 - 0").
    pub fn drop_non_states(&self, accepted: &mut Vec<Mention>, sport: bool) {
        let chars = &self.chars;
        accepted.retain(|m| m.1 >= chars.len() || chars.at(m.1) != '$' as u32);
        if sport {
            let (actors, entries) = (&self.core.actors, &self.actors.entries);
            accepted.retain(|m| !actors[entries[m.2].actor as usize].is_country);
        }
    }

    /// `Tagger._aggregate` without the objects: per actor, its mentions, salience, confidence and
    /// evidence, most salient first.
    pub fn summarize(&self, accepted: &[Mention]) -> Vec<ActorSummary> {
        let core = self.core;
        let entries = &self.actors.entries;
        let lead_end = match self.chars.find('\n' as u32, self.body_start) {
            -1 => self.chars.len(),
            at => at,
        }
        .min(self.body_start + LEAD_CHARS);
        // Per actor, in order of first mention (Python's dict order, which the float sums follow).
        struct Acc {
            actor: usize,
            spans: Vec<Mention>,
            first: i64,
            mentions: i64,
            total: f64,
            miss: f64,
            title_best: f64,
            lead_best: f64,
        }
        let mut slot = vec![usize::MAX; core.actors.len()];
        let mut accs: Vec<Acc> = Vec::new();
        for &mention in accepted {
            let actor = entries[mention.2].actor as usize;
            if slot[actor] == usize::MAX {
                slot[actor] = accs.len();
                accs.push(Acc {
                    actor,
                    spans: Vec::new(),
                    first: mention.0,
                    mentions: 0,
                    total: 0.0,
                    miss: 1.0,
                    title_best: 0.0,
                    lead_best: 0.0,
                });
            }
            let acc = &mut accs[slot[actor]];
            if acc.spans.len() < MAX_SPANS {
                acc.spans.push(mention);
            }
        }
        // Counted per entry in order of first mention, then folded into the actor: Python's order.
        // (A few tens of mentions: a linear search beats a table over every entry.)
        let mut entry_counts: Vec<(usize, i64)> = Vec::new();
        for &(_, _, entry) in accepted {
            match entry_counts.iter_mut().find(|(e, _)| *e == entry) {
                Some((_, count)) => *count += 1,
                None => entry_counts.push((entry, 1)),
            }
        }
        for (entry, count) in entry_counts {
            let e = &entries[entry];
            let acc = &mut accs[slot[e.actor as usize]];
            acc.mentions += count;
            acc.total += e.weight * count as f64;
            acc.miss *= pow(1.0 - e.weight, count as f64);
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
        let mut summaries: Vec<(i64, &str, ActorSummary)> = accs
            .into_iter()
            .map(|acc| {
                let frequency = 1.0 - exp(-acc.total / FREQUENCY_SCALE);
                let salience = round4(
                    SALIENCE_TITLE * acc.title_best
                        + SALIENCE_LEAD * acc.lead_best
                        + SALIENCE_FREQUENCY * frequency,
                );
                let summary = ActorSummary {
                    actor: acc.actor,
                    mentions: acc.mentions,
                    salience,
                    confidence: round4(1.0 - acc.miss),
                    spans: acc.spans,
                };
                (acc.first, core.actors[acc.actor].id.as_str(), summary)
            })
            .collect();
        // As Python sorts (-salience, first start, id, tag); the first three always differ.
        summaries.sort_by(|a, b| {
            (-a.2.salience).total_cmp_py(-b.2.salience).then_with(|| a.0.cmp(&b.0)).then_with(|| a.1.cmp(b.1))
        });
        summaries.into_iter().map(|(_, _, summary)| summary).collect()
    }
}
