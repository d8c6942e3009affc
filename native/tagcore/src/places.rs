//! The neighbour-word tests: a capital used as a place rather than as its state (`_PlaceUse`), and
//! a name that is part of a longer proper name (`_in_longer_name`: `Chad Smith`, `Michael Jordan`).
//! They read the document text itself, case kept, as `pipelines.tag_match` does.

use crate::article::{Article, Mention};
use crate::pytext::{is_alpha, is_upper};

impl Article<'_, '_> {
    /// `_word_before`: the range of the word directly before `start`, one space between.
    pub fn word_before(&self, start: i64) -> (i64, i64) {
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
    pub fn word_after(&self, end: i64) -> (i64, i64) {
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
    pub fn in_longer_name(&self, start: i64, end: i64) -> bool {
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
}

/// `_PlaceUse`: tells a capital used as the state from a capital used as a place.
pub struct PlaceUse<'s, 'a, 'py> {
    article: &'s Article<'a, 'py>,
    actor_at: Vec<(i64, i64)>, // (start, actor) of the accepted mentions
    mention_ends: Vec<i64>,
    surnames: Vec<u32>, // interned vias seen as a person's surname
}

impl<'s, 'a, 'py> PlaceUse<'s, 'a, 'py> {
    pub fn new(article: &'s Article<'a, 'py>, accepted: &[Mention], candidates: &[Mention]) -> Self {
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

    pub fn is_place(&self, &(start, end, number): &Mention) -> bool {
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
        if t.lower_in(before.0, before.1, &words.locative)
            || t.lower_in(after.0, after.1, &words.place_nouns)
            || self.dateline(start, end)
        {
            return true;
        }
        let of = t.lower_in(before.0, before.1, &words.of);
        if of || t.lower_in(before.0, before.1, &words.place_modifiers) {
            let earlier = article.word_before(before.0);
            if t.lower_in(earlier.0, earlier.1, if of { &words.place_of } else { &words.locative }) {
                return true;
            }
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

    /// `_PlaceUse._dateline`: the place at a body paragraph's start where the report was filed.
    fn dateline(&self, start: i64, end: i64) -> bool {
        let article = self.article;
        let t = &article.chars;
        if start < article.body_start || (start > 0 && t.at(start - 1) != '\n' as u32) {
            return false;
        }
        // `_DATELINE_MARKS`: " (", " –", " —", " -"
        let marked = end + 1 < t.len()
            && t.at(end) == ' ' as u32
            && ['(', '–', '—', '-'].iter().any(|&c| t.at(end + 1) == c as u32);
        marked || (t.is_upper(start, end) && (t.starts_with(",", end) || t.starts_with(":", end)))
    }
}
