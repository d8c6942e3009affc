"""Evaluate actor tagging (pipelines.tag_match) on real annotated news: the GUM Wikinews articles.

Data: `../shared/data/eval/gum-news/*.conllu` (or `$WIREWATCH_SHARED_DATA/eval/gum-news`), 24
Wikinews articles from the GUM corpus in CoNLL-U, with every entity mention bracketed in the MISC
column and linked to its English Wikipedia title. Nothing is copied into the repository.

Reading the annotation
----------------------
`# global.Entity = GRP-etype-infstat-salience-centering-minspan-link-identity`: a token's
`Entity=` value holds, in order, openings `(GRP-etype-...-link[-identity]` (followed directly by
`)` when the mention is that one token) and closings `GRP)`, e.g. `(5-time-...-sgl)4)`. The
identity is the percent-encoded Wikipedia title (`Kim_Jong%2Dun`, `Labour_Party_%28Hong_Kong%29`),
absent for entities without an article. Mentions of one GRP nest LIFO.

The document text is rebuilt from the tokens: a token is followed by a space unless `SpaceAfter=No`
(multi-word tokens such as `Korea's` are written once, their words share its characters); the
sentences of a paragraph (`# newpar`) are joined by a space, paragraphs by a blank line. The first
paragraph is the headline (every file opens with a `head` block) and becomes the title, so the text
is exactly `document_text(title, body)` and every gold mention keeps its character offsets.

What is measured
----------------
An entity is *registry-covered* when its Wikipedia title equals an actor's `wikipedia` field once
both are normalized (underscores -> spaces, first letter case-insensitive); as a second tier, titles
that differ only in case, hyphens or punctuation (`Kim Jong-un` vs `Kim Jong Un`, an old title that
now redirects) are joined too and reported as `folded` matches.

Gold mentions are the *named* mentions of covered entities: those with a proper-noun token (UPOS
PROPN or XPOS NNP/NNPS: `North Korea`, `the North`, `Korean`). Pronouns and common-noun phrases
(`it`, `the country`) carry the same link in GUM but no string matcher can tag them; they are
counted and reported, not scored.

- Mention recall: a gold mention is found when a predicted span of the same actor overlaps it.
- Mention precision: each predicted span is classified by the gold mentions it overlaps. It is
  `correct` when it overlaps a mention of the same actor. Otherwise only mentions it *aligns* with
  (it overlaps every content word of the mention, determiners, punctuation and a possessive aside:
  `Sweden`, `the Belgians`) say what it names: `wrong_actor` (a mention of another registry-covered
  entity), `other_entity` (a mention linked to a title not in the registry: `Sweden` the national
  football team, `Kabul` the city, `Afghans` the people), `unlinked` (a mention without a link:
  `Paris` the person). A span that only sits inside larger mentions is not judged, as `in_name`
  (next to a proper noun of that mention: `Hong Kong [Island]`, `the [Saudi] Gazette`) or
  `modifier` (`[Afghan] teenagers`, `pro-[Beijing] camp`): GUM annotates noun phrases, not the
  country such a word evokes. A span on no mention at all is `unannotated`, not judged either.
  Headline precision = correct / (correct + wrong_actor + other_entity + unlinked): a span standing
  for an annotated mention of something else is a wrong tag whether or not that something is in the
  registry. Also reported: the narrowest reading (wrong_actor only), a lenient one (capital, metonym
  and demonym spans on the city/building/people accepted, as the registry intends them) and stricter
  ones (in_name, then every not-judged span, counted as errors). Every non-correct span is listed.
- Document level: per article, the set of tagged actor ids vs the covered actors with a named gold
  mention; micro-averaged over (article, actor) pairs.
- Registry-linked share (the issue's second target, >= 0.9): every linked title has a hand-made
  class in `benchmarks/data/gum_entity_classes.tsv` (country, igo, national_politician,
  armed_group or other; rules in `gum_entity_classes_RULES.md`), made from what the title is,
  not from whether the registry has it. Of the named mentions of the first four classes, the share
  tagged with the right actor by the recall rule above; a mention of a title the registry lacks
  counts as untagged, so this figure measures coverage and matching together.

Results go to benchmarks/results/tagging_eval.json and .md.

    .venv/bin/python benchmarks/eval_tagging.py
    .venv/bin/python benchmarks/eval_tagging.py --data ../shared/data/eval/gum-news
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from pipelines import tag_match
from pipelines.tag_match import Tagger, document_text
from schemas.actors import Actor, Registry, normalize_alias

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SHARED = Path(os.environ.get("WIREWATCH_SHARED_DATA") or ROOT.parent / "shared" / "data")
DEFAULT_DATA = SHARED / "eval" / "gum-news"
TARGET_PRECISION, TARGET_RECALL = 0.95, 0.90
CLASSES = ROOT / "benchmarks" / "data" / "gum_entity_classes.tsv"
REGISTRY_CLASSES = ("country", "igo", "national_politician", "armed_group")  # what the registry is for
ENTITY_CLASSES = (*REGISTRY_CLASSES, "other")
TARGET_REGISTRY_LINKED = 0.90
SEPARATOR = "\n\n"

# One bracket of an `Entity=` value: an opening "(GRP-fields" (then ")" if it closes on this token)
# or a closing "GRP)". Identities are percent-encoded, so they hold no brackets.
_BRACKET = re.compile(r"\((\d+)-([^()]*)(\))?|(\d+)\)")
_SPACE_AFTER_NO = re.compile(r"(?:^|\|)SpaceAfter=No(?:\||$)")


# --- reading GUM CoNLL-U ---------------------------------------------------------------------------


@dataclass
class Mention:
    """One gold entity mention: `text[start:end]` of its document."""

    group: str  # the entity (GRP) number, unique within its document
    etype: str
    link: str  # coref, ana, appos, sgl, ...
    identity: str | None  # Wikipedia title, spaces not underscores; None when unlinked
    start: int
    end: int
    text: str
    named: bool  # has a proper-noun token
    tokens: tuple[tuple[int, int, str, bool], ...] = ()  # (start, end, UPOS, proper) of its words


@dataclass
class Doc:
    name: str
    title: str
    body: str
    mentions: list[Mention] = field(default_factory=list)

    @property
    def text(self) -> str:
        return document_text(self.title, self.body)


@dataclass
class _Word:
    start: int  # character offsets in the document text
    end: int
    upos: str
    proper: bool
    entity: str  # the MISC Entity= value, "" if none


@dataclass
class _Sentence:
    words: list[_Word]
    text: str  # relative to the sentence; words' offsets are relative too until placed
    new_par: bool
    heading: bool
    declared: str | None  # the `# text =` comment, for a sanity check


def _misc(misc: str, key: str) -> str:
    for item in misc.split("|"):
        if item.startswith(key + "="):
            return item[len(key) + 1 :]
    return ""


def _read_sentences(path: Path) -> tuple[list[_Sentence], dict[str, str]]:
    meta: dict[str, str] = {}
    sentences: list[_Sentence] = []
    comments: list[str] = []
    rows: list[list[str]] = []

    def flush() -> None:
        if rows:
            sentences.append(_build_sentence(rows, comments))
        rows.clear()
        comments.clear()

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.rstrip("\n")
        if not line.strip():
            flush()
        elif line.startswith("#"):
            if rows:
                flush()
            comments.append(line)
            if line.startswith("# meta::") and " = " in line:
                key, value = line[len("# meta::") :].split(" = ", 1)
                meta[key.strip()] = value.strip()
        else:
            rows.append(line.split("\t"))
    flush()
    return sentences, meta


def _build_sentence(rows: list[list[str]], comments: list[str]) -> _Sentence:
    new_par = any(c == "# newpar" or c.startswith("# newpar ") for c in comments)
    heading = any(c.startswith("# newpar_block = head") for c in comments)
    declared = next((c.split(" = ", 1)[1] for c in comments if c.startswith("# text = ")), None)
    parts: list[str] = []
    pos = 0
    words: list[_Word] = []
    span_end = 0  # last word id covered by the current multi-word token
    mwt_cursor = mwt_start = 0
    mwt_form = ""
    for cols in rows:
        if len(cols) != 10:
            raise ValueError(f"not a CoNLL-U row: {cols!r}")
        ident, form, upos, xpos, misc = cols[0], cols[1], cols[3], cols[4], cols[9]
        if "." in ident:  # empty node: no surface
            continue
        if "-" in ident:  # multi-word token: its form is the surface
            span_end = int(ident.split("-")[1])
            mwt_cursor = pos
            parts.append(form)
            pos += len(form)
            if not _SPACE_AFTER_NO.search(misc):
                parts.append(" ")
                pos += 1
            mwt_start, mwt_form = mwt_cursor, form
            continue
        number = int(ident)
        entity = _misc(misc, "Entity")
        proper = upos == "PROPN" or xpos in ("NNP", "NNPS")
        if number <= span_end:  # a word inside the multi-word token just written
            offset = mwt_cursor - mwt_start
            if mwt_form[offset : offset + len(form)] == form:
                start, end = mwt_cursor, mwt_cursor + len(form)
            else:  # the words do not spell the token: the whole token stands for each
                start, end = mwt_start, mwt_start + len(mwt_form)
            mwt_cursor = end
            words.append(_Word(start, end, upos, proper, entity))
            continue
        words.append(_Word(pos, pos + len(form), upos, proper, entity))
        parts.append(form)
        pos += len(form)
        if not _SPACE_AFTER_NO.search(misc):
            parts.append(" ")
            pos += 1
    text = "".join(parts)
    stripped = text.rstrip(" ")
    return _Sentence(words, stripped, new_par, heading, declared)


def read_doc(path: Path) -> Doc:
    """One GUM file as title, body and gold mentions with offsets into `document_text(title, body)`."""
    sentences, meta = _read_sentences(path)
    if not sentences:
        raise ValueError(f"{path}: no sentences")
    # Paragraphs: lists of sentence indexes.
    paragraphs: list[list[int]] = []
    for index, sentence in enumerate(sentences):
        if sentence.new_par or not paragraphs:
            paragraphs.append([])
        paragraphs[-1].append(index)
    if not sentences[paragraphs[0][0]].heading:
        raise ValueError(f"{path}: the first paragraph is not a headline (meta title {meta.get('title')!r})")
    # Place each sentence: offsets in the document text.
    chunks: list[str] = []
    base: dict[int, int] = {}
    pos = 0
    for number, paragraph in enumerate(paragraphs):
        if number:
            chunks.append(SEPARATOR)
            pos += len(SEPARATOR)
        for k, index in enumerate(paragraph):
            if k:
                chunks.append(" ")
                pos += 1
            base[index] = pos
            chunks.append(sentences[index].text)
            pos += len(sentences[index].text)
    text = "".join(chunks)
    title_end = base[paragraphs[0][-1]] + len(sentences[paragraphs[0][-1]].text)
    title, body = text[:title_end], text[title_end + len(SEPARATOR) :]
    assert document_text(title, body) == text
    doc = Doc(path.stem, title, body)

    # Mentions: brackets across the whole document (a mention never crosses a sentence in GUM, but
    # nothing here depends on that).
    Token = tuple[int, int, str, bool]
    open_stack: dict[str, list[tuple[int, str, str, str | None, list[Token]]]] = defaultdict(list)
    for index, sentence in enumerate(sentences):
        shift = base[index]
        for word in sentence.words:
            start, end = word.start + shift, word.end + shift
            token = (start, end, word.upos, word.proper)
            for stack in open_stack.values():
                for entry in stack:
                    entry[4].append(token)
            for match in _BRACKET.finditer(word.entity):
                if match.group(1) is not None:
                    group, fields = match.group(1), match.group(2).split("-")
                    etype = fields[0] if fields else ""
                    link = fields[5] if len(fields) > 5 else ""
                    identity = unquote("-".join(fields[6:])).replace("_", " ") if len(fields) > 6 else None
                    if match.group(3):
                        doc.mentions.append(
                            Mention(
                                group,
                                etype,
                                link,
                                identity or None,
                                start,
                                end,
                                text[start:end],
                                word.proper,
                                (token,),
                            )
                        )
                    else:
                        open_stack[group].append((start, etype, link, identity or None, [token]))
                else:
                    group = match.group(4)
                    if not open_stack[group]:
                        raise ValueError(f"{path}: closing {group}) without an opening")
                    m_start, etype, link, identity, tokens = open_stack[group].pop()
                    named = any(t[3] for t in tokens)
                    doc.mentions.append(
                        Mention(
                            group,
                            etype,
                            link,
                            identity,
                            m_start,
                            end,
                            text[m_start:end],
                            named,
                            tuple(tokens),
                        )
                    )
    left = [group for group, stack in open_stack.items() if stack]
    if left:
        raise ValueError(f"{path}: unclosed mentions of {left}")
    # A mention without its own identity takes its entity's (GUM writes it on each mention anyway).
    by_group: dict[str, Counter[str]] = defaultdict(Counter)
    for mention in doc.mentions:
        if mention.identity:
            by_group[mention.group][mention.identity] += 1
    for mention in doc.mentions:
        if mention.identity is None and by_group.get(mention.group):
            mention.identity = by_group[mention.group].most_common(1)[0][0]
    doc.mentions.sort(key=lambda m: (m.start, -m.end))
    return doc


def check_sentences(path: Path) -> int:
    """How many sentences' rebuilt text differs from their `# text =` comment (should be 0)."""
    sentences, _ = _read_sentences(path)
    return sum(1 for s in sentences if s.declared is not None and s.declared != s.text)


# --- joining Wikipedia titles to the registry ------------------------------------------------------


def title_key(title: str) -> str:
    """Underscores -> spaces, whitespace folded, first letter case-insensitive (Wikipedia's rule)."""
    title = " ".join(title.replace("_", " ").split())
    return title[:1].upper() + title[1:]


@dataclass(frozen=True)
class Join:
    actor: Actor
    how: str  # "exact" (normalized title) or "folded" (case, hyphens, punctuation)


def build_join(registry: Registry) -> tuple[dict[str, Actor], dict[str, Actor], dict[str, list[Actor]]]:
    exact: dict[str, Actor] = {}
    folded: dict[str, Actor] = {}
    by_alias: dict[str, list[Actor]] = defaultdict(list)
    for actor in registry.actors:
        if actor.wikipedia:
            exact.setdefault(title_key(actor.wikipedia), actor)
            folded.setdefault(normalize_alias(actor.wikipedia), actor)
        for alias in actor.all_aliases:
            if actor not in by_alias[alias.key]:
                by_alias[alias.key].append(actor)
    return exact, folded, by_alias


def join_title(
    title: str, exact: dict[str, Actor], folded: dict[str, Actor], *, allow_folded: bool
) -> Join | None:
    actor = exact.get(title_key(title))
    if actor is not None:
        return Join(actor, "exact")
    actor = folded.get(normalize_alias(title)) if allow_folded else None
    return Join(actor, "folded") if actor is not None else None


def load_classes(path: Path = CLASSES) -> dict[str, str]:
    """Wikipedia title -> entity class, from the reviewed class file (columns title, class, basis)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or lines[0].split("\t") != ["title", "class", "basis"]:
        raise ValueError(f"{path}: the header must be title<TAB>class<TAB>basis")
    classes: dict[str, str] = {}
    for number, line in enumerate(lines[1:], start=2):
        title, cls, basis = [*line.split("\t"), "", ""][:3]
        if cls not in ENTITY_CLASSES or not basis.strip() or title in classes:
            raise ValueError(f"{path}:{number}: want a new title, one of {ENTITY_CLASSES} and a basis")
        classes[title] = cls
    return classes


# --- scoring ---------------------------------------------------------------------------------------

CATEGORIES = ("correct", "wrong_actor", "other_entity", "unlinked", "in_name", "modifier", "unannotated")
COUNTED = ("correct", "wrong_actor", "other_entity", "unlinked")  # the headline precision's denominator
_FUNCTION_UPOS = ("DET", "PUNCT", "PART")


def aligned(start: int, end: int, mention: Mention) -> bool:
    """The span stands for the whole mention: it overlaps every content word of it (not only a part).

    `Sweden` aligns with the mention `Sweden` and with `the Belgians`' `Belgians`, not with
    `the Afghan team` (it is a modifier there) nor with `Hong Kong Island` (a part of the name).
    """
    content = [t for t in mention.tokens if t[2] not in _FUNCTION_UPOS] or list(mention.tokens)
    return all(_overlaps(start, end, t[0], t[1]) for t in content)


def inside_kind(start: int, end: int, mentions: Sequence[Mention]) -> str:
    """For a span inside larger mentions only: `in_name` when a neighbouring word in the mention is a
    proper noun (`Hong Kong [Island]`, `the [Saudi] Gazette`), else `modifier` (`[Afghan] teenagers`)."""
    for mention in mentions:
        words = [t for t in mention.tokens if t[2] != "PUNCT"]
        before = [t for t in words if t[1] <= start]
        after = [t for t in words if t[0] >= end]
        if (before and before[-1][3]) or (after and after[0][3]):
            return "in_name"
    return "modifier"


def _overlaps(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    return a_start < b_end and b_start < a_end


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def _context(text: str, start: int, end: int, width: int = 40) -> str:
    left = text[max(0, start - width) : start].replace("\n", " ")
    right = text[end : end + width].replace("\n", " ")
    return f"…{left}[{text[start:end]}]{right}…"


def evaluate(data_dir: Path, allow_folded: bool, classes_path: Path = CLASSES) -> dict[str, Any]:
    """The evaluation, with the tagger's cap on evidence spans lifted while it runs (it needs them
    all) and put back after, also when it fails: a test process goes on tagging afterwards."""
    kept = getattr(tag_match, "MAX_SPANS", None)
    if kept is not None:
        tag_match.MAX_SPANS = 1_000_000
    try:
        return _evaluate(data_dir, allow_folded, classes_path)
    finally:
        if kept is not None:
            tag_match.MAX_SPANS = kept


def _evaluate(data_dir: Path, allow_folded: bool, classes_path: Path) -> dict[str, Any]:
    paths = sorted(data_dir.glob("*.conllu"))
    if not paths:
        raise SystemExit(f"no *.conllu under {data_dir} (set WIREWATCH_SHARED_DATA or pass --data)")
    classes = load_classes(classes_path)

    began = time.perf_counter()
    tagger = Tagger.from_files()
    build_s = time.perf_counter() - began
    registry = tagger.registry
    exact, folded, by_alias = build_join(registry)
    alias_types = {(a.id, alias.key): alias.type for a in registry.actors for alias in a.all_aliases}

    docs = [read_doc(path) for path in paths]
    mismatched_sentences = sum(check_sentences(path) for path in paths)

    # Which gold titles are covered.
    joins: dict[str, Join | None] = {}
    for doc in docs:
        for mention in doc.mentions:
            if mention.identity and mention.identity not in joins:
                joins[mention.identity] = join_title(
                    mention.identity, exact, folded, allow_folded=allow_folded
                )
    unclassed = sorted(set(joins) - set(classes))
    if unclassed:
        raise SystemExit(f"{classes_path}: no row for {len(unclassed)} linked titles, e.g. {unclassed[:3]}")

    def actor_of(mention: Mention) -> str | None:
        join = joins.get(mention.identity) if mention.identity else None
        return join.actor.id if join else None

    names = {actor.id: actor.name for actor in registry.actors}
    totals: Counter[str] = Counter()
    gold_named = gold_found = gold_all = gold_all_found = 0
    misses: list[dict[str, Any]] = []
    flagged: list[dict[str, Any]] = []  # predicted spans that are not `correct`
    doc_rows: list[dict[str, Any]] = []
    doc_tp = doc_fp = doc_fn = doc_fp_judged = 0
    doc_misses: list[dict[str, Any]] = []
    doc_fps: list[dict[str, Any]] = []
    truncated = 0
    tag_seconds = 0.0
    # Per covered entity: docs, named mentions, found; per uncovered title: mentions, docs, etype.
    covered: dict[str, dict[str, Any]] = {}
    uncovered: dict[str, dict[str, Any]] = {}
    # Per title of a registry class: its named mentions and how many were tagged with its actor.
    linked: dict[str, dict[str, Any]] = {}

    for doc in docs:
        text = doc.text
        t0 = time.perf_counter()
        result = tagger.tag(doc.title, doc.body)
        tag_seconds += time.perf_counter() - t0
        spans: list[tuple[int, int, str, str, str]] = []  # start, end, actor id, text, via
        for tag in result.actors:
            if tag.mentions != len(tag.spans):
                truncated += 1
            for span in tag.spans:
                if text[span.start : span.end] != span.text:
                    raise AssertionError(f"{doc.name}: span {span} does not point into the document text")
                spans.append((span.start, span.end, tag.id, span.text, span.via))

        # Gold, per mention.
        gold_ids: set[str] = set()
        for mention in doc.mentions:
            actor_id = actor_of(mention)
            found = actor_id is not None and any(
                a == actor_id and _overlaps(s, e, mention.start, mention.end) for s, e, a, _, _ in spans
            )
            if mention.identity and mention.named and classes[mention.identity] in REGISTRY_CLASSES:
                row = linked.setdefault(
                    mention.identity,
                    {
                        "title": mention.identity,
                        "class": classes[mention.identity],
                        "covered": actor_id is not None,
                        "named": 0,
                        "tagged": 0,
                    },
                )
                row["named"] += 1
                row["tagged"] += int(found)
            if mention.identity and actor_id is None:
                row = uncovered.setdefault(
                    mention.identity,
                    {
                        "title": mention.identity,
                        "etype": mention.etype,
                        "named": 0,
                        "mentions": 0,
                        "docs": set(),
                    },
                )
                row["mentions"] += 1
                row["named"] += int(mention.named)
                row["docs"].add(doc.name)
            if actor_id is None:
                continue
            join = joins[mention.identity] if mention.identity else None
            entry = covered.setdefault(
                actor_id,
                {
                    "title": mention.identity,
                    "actor_id": actor_id,
                    "actor": names[actor_id],
                    "match": join.how if join else "",
                    "docs": set(),
                    "named": 0,
                    "found": 0,
                    "other_mentions": 0,
                    "other_found": 0,
                },
            )
            gold_all += 1
            gold_all_found += int(found)
            if not mention.named:
                entry["other_mentions"] += 1
                entry["other_found"] += int(found)
                continue
            gold_ids.add(actor_id)
            entry["docs"].add(doc.name)
            entry["named"] += 1
            entry["found"] += int(found)
            gold_named += 1
            gold_found += int(found)
            if not found:
                near = [
                    f"{t} -> {a}" for s, e, a, t, _ in spans if _overlaps(s, e, mention.start, mention.end)
                ]
                misses.append(
                    {
                        "doc": doc.name,
                        "text": mention.text,
                        "expected": actor_id,
                        "expected_name": names[actor_id],
                        "start": mention.start,
                        "end": mention.end,
                        "predicted_here": near,
                        "context": _context(text, mention.start, mention.end),
                    }
                )

        # Predictions, per span.
        span_cats: dict[str, Counter[str]] = defaultdict(Counter)
        for start, end, actor_id, span_text, via in spans:
            over = [m for m in doc.mentions if _overlaps(start, end, m.start, m.end)]
            whole = [m for m in over if aligned(start, end, m)]
            if any(actor_of(m) == actor_id for m in over):
                category = "correct"
            elif any(actor_of(m) is not None for m in whole):
                category = "wrong_actor"
            elif any(m.identity for m in whole):
                category = "other_entity"
            elif whole:
                category = "unlinked"
            elif over:
                category = inside_kind(start, end, over)
            else:
                category = "unannotated"
            totals[category] += 1
            span_cats[actor_id][category] += 1
            if category != "correct":
                gold_here = sorted(
                    {f"{m.identity or '(no link)'} [{m.etype}: {m.text}]" for m in (whole or over)},
                    key=len,
                )[:3]
                flagged.append(
                    {
                        "doc": doc.name,
                        "category": category,
                        "text": span_text,
                        "via": via,
                        "alias_type": alias_types.get((actor_id, normalize_alias(via)), "surname/other"),
                        "predicted": actor_id,
                        "predicted_name": names.get(actor_id, actor_id),
                        "gold_here": gold_here,
                        "start": start,
                        "end": end,
                        "context": _context(text, start, end),
                    }
                )

        # Document level.
        predicted_ids = set(result.actor_ids)
        tp, fp, fn = predicted_ids & gold_ids, predicted_ids - gold_ids, gold_ids - predicted_ids
        doc_tp, doc_fp, doc_fn = doc_tp + len(tp), doc_fp + len(fp), doc_fn + len(fn)
        for actor_id in sorted(fn):
            doc_misses.append({"doc": doc.name, "expected": actor_id, "expected_name": names[actor_id]})
        for actor_id in sorted(fp):
            cats = span_cats[actor_id]
            doc_fp_judged += any(cats[c] for c in COUNTED if c != "correct")
            doc_fps.append(
                {
                    "doc": doc.name,
                    "predicted": actor_id,
                    "predicted_name": names.get(actor_id, actor_id),
                    "spans": dict(cats),
                    "texts": sorted({t for _, _, a, t, _ in spans if a == actor_id}),
                }
            )
        doc_rows.append(
            {
                "doc": doc.name,
                "title": doc.title,
                "chars": len(text),
                "gold": sorted(gold_ids),
                "predicted": sorted(predicted_ids),
                "tp": len(tp),
                "fp": len(fp),
                "fn": len(fn),
            }
        )

    counted = sum(totals[c] for c in COUNTED)
    # Capitals, metonyms and demonyms stand for the country by design (Kabul, the White House,
    # Afghans); GUM links them to the city, building or people. Counted as right in the lenient figure.
    by_design = sum(
        1
        for row in flagged
        if row["category"] == "other_entity" and row["alias_type"] in ("capital", "metonym", "demonym")
    )
    causes: Counter[tuple[str, str, str]] = Counter()
    for row in flagged:
        first = row["gold_here"][0].split(" [")[0] if row["gold_here"] else "-"
        causes[(row["category"], f"{row['predicted']} {row['predicted_name']}", first)] += 1
    mention_level = {
        "gold_named_mentions": gold_named,
        "found": gold_found,
        "recall": _ratio(gold_found, gold_named),
        "predicted_spans": sum(totals.values()),
        "span_categories": {c: totals[c] for c in CATEGORIES},
        "precision": _ratio(totals["correct"], counted),
        "precision_wrong_actor_only": _ratio(totals["correct"], totals["correct"] + totals["wrong_actor"]),
        "precision_capital_demonym_metonyms_accepted": _ratio(totals["correct"] + by_design, counted),
        "precision_in_name_as_errors": _ratio(totals["correct"], counted + totals["in_name"]),
        "precision_all_uncounted_as_errors": _ratio(totals["correct"], sum(totals.values())),
        "all_linked_mentions_incl_pronouns": gold_all,
        "all_linked_found": gold_all_found,
        "recall_incl_pronouns_and_nominals": _ratio(gold_all_found, gold_all),
    }
    document = {
        "pairs_gold": doc_tp + doc_fn,
        "pairs_predicted": doc_tp + doc_fp,
        "tp": doc_tp,
        "fp": doc_fp,
        "fn": doc_fn,
        "precision": _ratio(doc_tp, doc_tp + doc_fp),
        "recall": _ratio(doc_tp, doc_tp + doc_fn),
        # An extra actor all of whose spans are not judged (a modifier, part of a name) cannot be
        # called wrong by the annotation either: the same rule as the mention level.
        "fp_judged": doc_fp_judged,
        "precision_judged": _ratio(doc_tp, doc_tp + doc_fp_judged),
    }
    gold_titles = list(joins)
    registry_linked = _registry_linked(linked, {t: classes[t] for t in gold_titles}, joins, classes_path)
    covered_titles = [t for t, j in joins.items() if j is not None]
    alias_only = []
    for title, join in joins.items():
        if join is None:
            actors = by_alias.get(normalize_alias(title), [])
            if actors:
                alias_only.append(
                    {
                        "title": title,
                        "alias_of": [
                            f"{a.id} {a.name} ({alias_types.get((a.id, normalize_alias(title)), '?')} alias; "
                            f"wikipedia: {a.wikipedia})"
                            for a in actors
                        ],
                        "mentions": uncovered[title]["mentions"] if title in uncovered else 0,
                    }
                )

    def finish(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for row in rows:
            row = dict(row)
            row["docs"] = sorted(row["docs"])
            out.append(row)
        return out

    covered_rows = finish(sorted(covered.values(), key=lambda r: (-r["named"], r["actor"])))
    uncovered_rows = finish(
        sorted(uncovered.values(), key=lambda r: (-len(r["docs"]), -r["named"], -r["mentions"], r["title"]))
    )
    return {
        "data": str(data_dir),
        "documents": len(docs),
        "characters": sum(len(d.text) for d in docs),
        "rebuilt_sentences_differing_from_text_comment": mismatched_sentences,
        "registry_version": registry.version,
        "registry_actors": len(registry.actors),
        "registry_actors_with_wikipedia": sum(1 for a in registry.actors if a.wikipedia),
        "tagger_build_s": round(build_s, 3),
        "tag_seconds_total": round(tag_seconds, 4),
        "tags_with_truncated_spans": truncated,
        "folded_title_join": allow_folded,
        "coverage": {
            "gold_titles": len(gold_titles),
            "covered_titles": len(covered_titles),
            "covered_exact": sum(1 for j in joins.values() if j is not None and j.how == "exact"),
            "covered_folded": sum(1 for j in joins.values() if j is not None and j.how == "folded"),
            "title_share": _ratio(len(covered_titles), len(gold_titles)),
            "linked_mentions": sum(1 for d in docs for m in d.mentions if m.identity),
            "covered_mentions": gold_all,
            "mention_share": _ratio(gold_all, sum(1 for d in docs for m in d.mentions if m.identity)),
            "named_linked_mentions": sum(1 for d in docs for m in d.mentions if m.identity and m.named),
            "covered_named_mentions": gold_named,
        },
        "mention_level": mention_level,
        "document_level": document,
        "registry_linked_share": registry_linked,
        "targets": {
            "precision": TARGET_PRECISION,
            "recall": TARGET_RECALL,
            "registry_linked_share": TARGET_REGISTRY_LINKED,
        },
        "misses": misses,
        "flagged_by_cause": [
            {"category": c, "predicted": p, "gold": g, "spans": n}
            for (c, p, g), n in sorted(
                causes.items(), key=lambda item: (CATEGORIES.index(item[0][0]), -item[1])
            )
        ],
        "flagged_spans": flagged,
        "document_misses": doc_misses,
        "document_false_positives": doc_fps,
        "covered_entities": covered_rows,
        "uncovered_entities": uncovered_rows,
        "uncovered_title_is_an_alias": alias_only,
        "documents_detail": doc_rows,
    }


def _registry_linked(
    linked: dict[str, dict[str, Any]],
    classes: dict[str, str],
    joins: dict[str, Join | None],
    classes_path: Path,
) -> dict[str, Any]:
    """Per class and overall: titles linked, titles the registry covers, named mentions, tagged."""

    def summary(wanted: Sequence[str]) -> dict[str, Any]:
        titles = [t for t, c in classes.items() if c in wanted]
        rows = [r for r in linked.values() if r["class"] in wanted]
        named, tagged = sum(r["named"] for r in rows), sum(r["tagged"] for r in rows)
        return {
            "titles": len(titles),
            "titles_covered": sum(1 for t in titles if joins[t] is not None),
            "named_mentions": named,
            "tagged": tagged,
            "share": _ratio(tagged, named),
        }

    missed = [dict(r, missed=r["named"] - r["tagged"]) for r in linked.values() if r["tagged"] < r["named"]]
    return {
        "classes_file": str(
            classes_path.relative_to(ROOT) if classes_path.is_relative_to(ROOT) else classes_path
        ),
        "target": TARGET_REGISTRY_LINKED,
        "per_class": {c: summary([c]) for c in REGISTRY_CLASSES},
        "overall": summary(REGISTRY_CLASSES),
        "not_fully_tagged": sorted(missed, key=lambda r: (-r["missed"], r["title"])),
    }


# --- report ----------------------------------------------------------------------------------------


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _verdict(value: float | None, target: float) -> str:
    if value is None:
        return "n/a"
    return "meets" if value >= target else "below"


def render_markdown(res: dict[str, Any], command: str) -> str:
    m, d, c = res["mention_level"], res["document_level"], res["coverage"]
    cats = m["span_categories"]
    lines = [
        "# Actor tagging on annotated news (GUM Wikinews)",
        "",
        f"Generated {res['generated']} on {res['platform']} (Python {res['python']}).",
        "",
        "Reproduce:",
        "",
        "```",
        command,
        "```",
        "",
        f"Data: `{res['data']}`: {res['documents']} articles, {res['characters']:,} characters "
        f"(text rebuilt from the tokens; {res['rebuilt_sentences_differing_from_text_comment']} sentences "
        "differ from their `# text =` comment). "
        f"Registry {res['registry_version']}: {res['registry_actors']} actors, "
        f"{res['registry_actors_with_wikipedia']} with a Wikipedia title. Tagger built in "
        f"{res['tagger_build_s']} s.",
        "",
        "## Headline figures (registry-covered entities)",
        "",
        "| level | precision | recall | target P / R | verdict |",
        "|---|---:|---:|---|---|",
        f"| mention | {_fmt(m['precision'])} | {_fmt(m['recall'])} | "
        f"{TARGET_PRECISION} / {TARGET_RECALL} | P {_verdict(m['precision'], TARGET_PRECISION)}, "
        f"R {_verdict(m['recall'], TARGET_RECALL)} |",
        f"| document (extras with a judged-wrong span) | {_fmt(d['precision_judged'])} | "
        f"{_fmt(d['recall'])} | {TARGET_PRECISION} / {TARGET_RECALL} | "
        f"P {_verdict(d['precision_judged'], TARGET_PRECISION)}, R {_verdict(d['recall'], TARGET_RECALL)} |",
        f"| document (strict: every extra actor) | {_fmt(d['precision'])} | {_fmt(d['recall'])} | "
        f"{TARGET_PRECISION} / {TARGET_RECALL} | P {_verdict(d['precision'], TARGET_PRECISION)}, "
        f"R {_verdict(d['recall'], TARGET_RECALL)} |",
        "",
        f"- Mention recall: {m['found']} of {m['gold_named_mentions']} named gold mentions of covered "
        f"entities found. Counting pronouns and common-noun mentions too (not scored, no string matcher "
        f"can find them): {m['all_linked_found']} of {m['all_linked_mentions_incl_pronouns']} "
        f"({_fmt(m['recall_incl_pronouns_and_nominals'])}).",
        f"- Predicted spans: {m['predicted_spans']}: correct {cats['correct']}, wrong actor "
        f"{cats['wrong_actor']}, other (non-registry) entity {cats['other_entity']}, unlinked entity "
        f"{cats['unlinked']}; not judged: part of another entity's name {cats['in_name']}, modifier "
        f"inside a larger mention {cats['modifier']}, unannotated {cats['unannotated']}.",
        f"- Mention precision = correct / (correct + wrong actor + other entity + unlinked) = "
        f"{_fmt(m['precision'])}. Looser (only wrong-actor spans as errors, the narrowest reading of "
        f"the brief): {_fmt(m['precision_wrong_actor_only'])}. Lenient (capital, metonym and demonym "
        f"spans on the city/building/people accepted, as the registry intends): "
        f"{_fmt(m['precision_capital_demonym_metonyms_accepted'])}. Stricter: with part-of-a-name spans "
        f"as errors {_fmt(m['precision_in_name_as_errors'])}; with every not-judged span as an error "
        f"{_fmt(m['precision_all_uncounted_as_errors'])}.",
        f"- Document level: {d['tp']} (article, actor) pairs right, {d['fp']} extra, {d['fn']} missed. "
        f"Of the extra actors, {d['fp_judged']} have a span the annotation calls wrong; the other "
        f"{d['fp'] - d['fp_judged']} are named only as modifiers or inside other names (`Greek court`, "
        f"`pro-Beijing camp`), which GUM does not annotate: listed below for review.",
        "",
        "Not-judged spans are *not* counted in the headline precision: GUM annotates noun phrases, not "
        "a country named as a modifier (`Afghan teenagers`, `pro-Beijing camp`) or as a part of "
        "another name (`the Saudi Interior Ministry`, `Environment Canada`), so the annotation cannot "
        "say whether the country is meant; they are all listed below for review, and the stricter "
        "figures count them as errors.",
        "",
        "## Registry-linked share",
        "",
        "Of the named gold mentions whose Wikipedia title is a country, an IGO, a national-level "
        f"politician or an armed group (classes: `{res['registry_linked_share']['classes_file']}`), "
        "the share tagged with the right actor; a title the registry lacks counts as untagged.",
        "",
        "| class | titles | in the registry | named mentions | tagged | share | target | verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
        *_registry_linked_rows(res["registry_linked_share"]),
        "",
        "### Titles of those classes with untagged mentions",
        "",
        "| Wikipedia title | class | in the registry | named mentions | tagged |",
        "|---|---|---|---:|---:|",
        *(
            f"| {_cell(r['title'])} | {r['class']} | {'yes' if r['covered'] else 'no'} | {r['named']} | "
            f"{r['tagged']} |"
            for r in res["registry_linked_share"]["not_fully_tagged"]
        ),
        "",
        "## Coverage of the gold entities by the registry",
        "",
        f"- Linked gold entities (distinct Wikipedia titles): {c['gold_titles']}; in the registry: "
        f"{c['covered_titles']} ({_fmt(c['title_share'])}): {c['covered_exact']} by normalized title, "
        f"{c['covered_folded']} by folded title (case/hyphen/punctuation).",
        f"- Linked mentions: {c['linked_mentions']}; of covered entities: {c['covered_mentions']} "
        f"({_fmt(c['mention_share'])}). Named linked mentions: {c['named_linked_mentions']}; of covered "
        f"entities: {c['covered_named_mentions']}.",
        "",
        "### Registry-covered entities",
        "",
        "| Wikipedia title | actor | join | articles | named mentions | found | pronoun/nominal mentions |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for row in res["covered_entities"]:
        lines.append(
            f"| {_cell(row['title'])} | {row['actor_id']} {_cell(row['actor'])} | {row['match']} | "
            f"{len(row['docs'])} | {row['named']} | {row['found']} | {row['other_mentions']} |"
        )
    if res["uncovered_title_is_an_alias"]:
        lines += [
            "",
            "### Gold titles not joined but spelled like a registry alias "
            "(capitals/metonyms by design, or an actor's `wikipedia` field to fix)",
            "",
            "| Wikipedia title | alias of | mentions |",
            "|---|---|---:|",
        ]
        for row in res["uncovered_title_is_an_alias"]:
            lines.append(
                f"| {_cell(row['title'])} | {_cell('; '.join(row['alias_of']))} | {row['mentions']} |"
            )
    top = res["uncovered_entities"][:60]
    lines += [
        "",
        f"### Gold entities not in the registry (top {len(top)} of {len(res['uncovered_entities'])}, "
        "by articles then named mentions)",
        "",
        "| Wikipedia title | type | articles | named mentions | all mentions |",
        "|---|---|---:|---:|---:|",
    ]
    for row in top:
        lines.append(
            f"| {_cell(row['title'])} | {row['etype']} | {len(row['docs'])} | {row['named']} | "
            f"{row['mentions']} |"
        )
    lines += [
        "",
        "## Predicted spans that are not correct, by cause",
        "",
        "| category | predicted | gold entity there | spans |",
        "|---|---|---|---:|",
    ]
    for row in res["flagged_by_cause"]:
        lines.append(
            f"| {row['category']} | {_cell(row['predicted'])} | {_cell(row['gold'])} | {row['spans']} |"
        )
    lines += [
        "",
        f"## Missed gold mentions ({len(res['misses'])})",
        "",
        "| article | mention | expected | tagged there | context |",
        "|---|---|---|---|---|",
    ]
    for row in res["misses"]:
        lines.append(
            f"| {row['doc']} | {_cell(row['text'])} | {row['expected']} {_cell(row['expected_name'])} | "
            f"{_cell(', '.join(row['predicted_here']) or '-')} | {_cell(row['context'])} |"
        )
    for category, heading in (
        ("wrong_actor", "False positives: span on a mention of another registry-covered entity"),
        ("other_entity", "False positives: span on a mention of an entity not in the registry"),
        ("unlinked", "False positives: span on a mention without a Wikipedia link"),
        ("in_name", "Not judged: span inside another entity's name (review)"),
        ("modifier", "Not judged: span as a modifier inside a larger mention (review)"),
        ("unannotated", "Not judged: span on no annotated mention (review)"),
    ):
        rows = [r for r in res["flagged_spans"] if r["category"] == category]
        lines += [
            "",
            f"## {heading} ({len(rows)})",
            "",
            "| article | span | via (alias type) | predicted | gold mention(s) there | context |",
            "|---|---|---|---|---|---|",
        ]
        for row in rows:
            lines.append(
                f"| {row['doc']} | {_cell(row['text'])} | {_cell(row['via'])} ({row['alias_type']}) | "
                f"{row['predicted']} "
                f"{_cell(row['predicted_name'])} | {_cell('; '.join(row['gold_here']) or '-')} | "
                f"{_cell(row['context'])} |"
            )
    lines += [
        "",
        f"## Document level: missed actors ({len(res['document_misses'])})",
        "",
        "| article | expected |",
        "|---|---|",
    ]
    for row in res["document_misses"]:
        lines.append(f"| {row['doc']} | {row['expected']} {_cell(row['expected_name'])} |")
    lines += [
        "",
        f"## Document level: extra actors ({len(res['document_false_positives'])})",
        "",
        "| article | predicted | its spans by category | texts |",
        "|---|---|---|---|",
    ]
    for row in res["document_false_positives"]:
        spans = ", ".join(f"{k} {v}" for k, v in sorted(row["spans"].items()))
        lines.append(
            f"| {row['doc']} | {row['predicted']} {_cell(row['predicted_name'])} | {spans} | "
            f"{_cell(', '.join(row['texts']))} |"
        )
    lines += [
        "",
        "## Per article",
        "",
        "| article | title | gold actors | tagged actors | TP | FP | FN |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in res["documents_detail"]:
        lines.append(
            f"| {row['doc']} | {_cell(row['title'])} | {len(row['gold'])} | {len(row['predicted'])} | "
            f"{row['tp']} | {row['fp']} | {row['fn']} |"
        )
    lines += ["", "## Method", "", *_method_lines()]
    return "\n".join(lines) + "\n"


def _registry_linked_rows(share: dict[str, Any]) -> list[str]:
    rows = [*share["per_class"].items(), ("**overall**", share["overall"])]
    return [
        f"| {name} | {r['titles']} | {r['titles_covered']} | {r['named_mentions']} | {r['tagged']} | "
        f"{_fmt(r['share'])} | {share['target']} | {_verdict(r['share'], share['target'])} |"
        for name, r in rows
    ]


def _method_lines() -> list[str]:
    doc = __doc__ or ""
    start = doc.find("Reading the annotation")
    end = doc.find("Results go to")
    body = doc[start:end].strip().splitlines()
    out = []
    for line in body:
        if set(line.strip()) == {"-"}:
            continue
        if line in ("Reading the annotation", "What is measured"):
            out += [f"### {line}", ""]
        else:
            out.append(line)
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of GUM *.conllu files")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where tagging_eval.{json,md} go")
    parser.add_argument(
        "--no-folded-join",
        action="store_true",
        help="join Wikipedia titles only after underscore/first-letter normalization",
    )
    args = parser.parse_args(argv)
    res = evaluate(args.data, allow_folded=not args.no_folded_join)
    res["generated"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    res["platform"] = platform.platform()
    res["python"] = platform.python_version()
    command = ".venv/bin/python benchmarks/eval_tagging.py" + (" " + " ".join(argv or sys.argv[1:])).rstrip()
    res["command"] = command
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "tagging_eval.json").write_text(json.dumps(res, indent=2, ensure_ascii=False) + "\n", "utf-8")
    (args.out / "tagging_eval.md").write_text(render_markdown(res, command), "utf-8")
    m, d, linked = res["mention_level"], res["document_level"], res["registry_linked_share"]["overall"]
    print(
        f"mention P {_fmt(m['precision'])} R {_fmt(m['recall'])} "
        f"(spans {m['span_categories']}); document P {_fmt(d['precision_judged'])} "
        f"(strict {_fmt(d['precision'])}) R {_fmt(d['recall'])}; "
        f"covered titles {res['coverage']['covered_titles']}/{res['coverage']['gold_titles']}; "
        f"registry-linked share {_fmt(linked['share'])} ({linked['tagged']}/{linked['named_mentions']})"
    )
    print(f"wrote {args.out / 'tagging_eval.md'} and .json")


if __name__ == "__main__":
    main()
