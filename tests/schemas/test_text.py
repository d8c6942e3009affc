"""Text clean-up: clean_text, clean_line, html_to_text, first_sentence, count_words."""

from __future__ import annotations

import pytest

from schemas.text import (
    clean_line,
    clean_text,
    count_words,
    first_sentence,
    has_markup,
    html_to_text,
    looks_like_html,
    markup_to_text,
    paragraphs,
)

# --- clean_text -----------------------------------------------------------------------------------


def test_clean_text_nfc():
    decomposed = "Caf" + "e\u0301" + " opens"
    assert len(decomposed) == 11
    cleaned = clean_text(decomposed)
    assert cleaned == "Café opens"
    assert cleaned == "Caf\u00e9 opens"
    assert len(cleaned) == 10


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("a\x00b\x07c\x1bd", "abcd", id="c0"),
        pytest.param("a\x7fb\x85c\x9fd", "abcd", id="del-and-c1"),
        pytest.param("zero\u200bwidth\u200d", "zerowidth", id="zero-width"),
        pytest.param("\ufeffBOM inside", "BOM inside", id="bom"),
        pytest.param("bidi\u202emark\u202a", "bidimark", id="bidi-override-embedding"),
        pytest.param("left\u200eright\u200f", "leftright", id="lrm-rlm"),
        pytest.param("form\x0cfeed\x0bvtab", "formfeedvtab", id="ff-vt"),
    ],
)
def test_clean_text_removes_control_characters(raw, expected):
    assert clean_text(raw) == expected


def test_clean_text_removes_bidi_isolates():
    # LRI, RLI, FSI and PDI (U+2066-U+2069) are the bidi controls that replaced the embeddings and
    # overrides (U+202A-U+202E, removed above); invisible inside a word, they split it for search.
    for isolate in "\u2066\u2067\u2068\u2069":
        assert clean_text(f"Pyong{isolate}yang") == "Pyongyang", f"U+{ord(isolate):04X} kept"
    assert clean_line("Pyong\u2068yang\u2069") == "Pyongyang"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("a\u00a0b", "a b", id="nbsp"),
        pytest.param("a\tb\t\tc", "a b c", id="tabs"),
        pytest.param("a\u2009b\u202fc\u3000d", "a b c d", id="thin-and-ideographic"),
        pytest.param("  a   b  ", "a b", id="runs-and-ends"),
    ],
)
def test_clean_text_spaces(raw, expected):
    assert clean_text(raw) == expected


def test_clean_text_crlf_and_cr():
    assert clean_text("One\r\ntwo.\r\n\r\nThree.\r\n") == "One two.\n\nThree."
    assert clean_text("One\rtwo.\r\rThree.") == "One two.\n\nThree."


def test_clean_text_many_newlines_make_one_paragraph_break():
    assert clean_text("First.\n\n\n\n\nSecond.\n\n\nThird.") == "First.\n\nSecond.\n\nThird."


def test_clean_text_blank_line_with_spaces_is_a_break():
    assert clean_text("First.\n \t \u00a0\nSecond.") == "First.\n\nSecond."


def test_clean_text_hard_wrapped_lines_are_joined():
    wrapped = (
        "The visit, marked as a\nblood alliance by experts,\n  indicates a shift.\n\nNext paragraph\nhere."
    )
    assert clean_text(wrapped) == (
        "The visit, marked as a blood alliance by experts, indicates a shift.\n\nNext paragraph here."
    )
    rewrapped = (
        "The visit, marked\nas a blood alliance\nby experts, indicates\na shift.\n\nNext\nparagraph here."
    )
    assert clean_text(rewrapped) == clean_text(wrapped)


def test_clean_text_drops_leading_and_trailing_blank_paragraphs():
    assert clean_text("\n\n  \n\nOnly.\n\n \n") == "Only."
    assert clean_text("") == ""
    assert clean_text(" \n\n\t ") == ""
    assert clean_text("\x00\u200b") == ""


def test_clean_text_is_idempotent():
    once = clean_text("A  b\r\n\r\n\r\nc\u00a0d e\u0301\x00")
    assert once == "A b\n\nc d é"
    assert clean_text(once) == once


def test_paragraphs():
    assert paragraphs("A.\n\nB.\n\nC.") == ["A.", "B.", "C."]
    assert paragraphs("") == []


# --- clean_line -----------------------------------------------------------------------------------


def test_clean_line():
    assert clean_line("  Kim\n meets\r\n\tPutin\u00a0 ") == "Kim meets Putin"
    assert clean_line("Caf" + "e\u0301\x00\u200b!") == "Café!"
    assert clean_line("a\n\n\nb") == "a b"
    assert clean_line(" \n ") == ""


# --- html_to_text ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        pytest.param("Tom &amp; Jerry", "Tom & Jerry", id="amp"),
        pytest.param("&lt;b&gt; is bold", "<b> is bold", id="lt-gt"),
        pytest.param("caf&eacute; caf&#233; caf&#xE9;", "café café café", id="named-and-numeric"),
        pytest.param("a&nbsp;b", "a b", id="nbsp"),
        pytest.param("&ldquo;quoted&rdquo; &mdash; ok", "“quoted” — ok", id="quotes-dash"),
        pytest.param("North Korea&#8217;s", "North Korea’s", id="apostrophe"),
    ],
)
def test_html_entities(html, expected):
    assert html_to_text(html) == expected


def test_html_br_joins_lines_inside_a_paragraph():
    assert html_to_text("<p>line one<br>line two<br/>line three<br />four</p>") == (
        "line one line two line three four"
    )


def test_html_p_splits_paragraphs():
    assert html_to_text("<p>First paragraph.</p><p>Second  paragraph.</p>\n<p>Third.</p>") == (
        "First paragraph.\n\nSecond paragraph.\n\nThird."
    )


def test_html_block_elements_split_paragraphs():
    html = "<h1>Title</h1><div>Intro</div><ul><li>one</li><li>two</li></ul><blockquote>Quote</blockquote>"
    assert html_to_text(html) == "Title\n\nIntro\n\none\n\ntwo\n\nQuote"


def test_html_inline_elements_do_not_split():
    assert html_to_text("<p>Kim <b>met</b> <a href='x'>Putin</a> in <em>Russia</em>.</p>") == (
        "Kim met Putin in Russia."
    )


@pytest.mark.parametrize(
    "hidden",
    [
        "<script>var secret = 'x';</script>",
        "<script type='text/javascript'>if (a < b) { alert('<p>no</p>'); }</script>",
        "<style>p { color: red; }</style>",
        "<svg viewBox='0 0 10 10'><text>secret</text><path d='M0 0'/></svg>",
        "<noscript>secret</noscript>",
        "<head><title>secret</title></head>",
    ],
)
def test_html_hidden_content_dropped(hidden):
    assert html_to_text(f"<p>Before.</p>{hidden}<p>After.</p>") == "Before.\n\nAfter."


def test_html_nested_hidden_elements():
    html = "<svg><g><svg><text>deep</text></svg><text>still hidden</text></g></svg>visible"
    assert html_to_text(html) == "visible"


def test_html_self_closing_svg_does_not_hide_following_text():
    assert html_to_text("<p>Icon <svg/> then text.</p><p>Next.</p>") == "Icon then text.\n\nNext."
    assert html_to_text("<svg /><p>Visible.</p>") == "Visible."


def test_html_whole_page():
    page = (
        "<!DOCTYPE html><html><head><title>T</title><style>body{}</style></head>"
        "<body><article><h2>Headline</h2><p>Body one\nwrapped.</p><p>Body two.</p></article>"
        "<script>track()</script></body></html>"
    )
    assert html_to_text(page) == "Headline\n\nBody one wrapped.\n\nBody two."


def test_html_nfc_and_controls():
    assert html_to_text("<p>Cafe\u0301\x00</p>") == "Café"


def test_html_plain_text_passes_through():
    assert html_to_text("No markup here.\n\nSecond.") == "No markup here.\n\nSecond."


def test_looks_like_html():
    assert looks_like_html("<p>x</p>")
    assert looks_like_html("a<br/>b")
    assert looks_like_html('<A HREF="x">y</A>')
    assert not looks_like_html("a < b and c > d")
    assert not looks_like_html("<pre-release> notes")


# --- markup in any text field --------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>Breaking",
        "<script>alert(1)",  # unclosed, still never prose
        "<img src=x onerror=alert(1)>Title",
        "Kim's <i>visit</i>",
        "a<br/>b",
        "a <!-- note --> b",
        "Tom &amp; Jerry",
        "caf&#233;",
        "&#x263A;",
    ],
)
def test_has_markup(text):
    assert has_markup(text)


@pytest.mark.parametrize(
    "text",
    [
        "x < y and AT&T",
        "if a<b then c",
        "Use <b> for bold.",
        "x<y and z>w",
        "I <3 NY",
        "R&D; costs",
        "AT&T&nbsp",
    ],
)
def test_prose_that_mentions_brackets_or_ampersands_is_not_markup(text):
    assert not has_markup(text)


@pytest.mark.parametrize(
    ("text", "html", "expected"),
    [
        # A title the feed called plain text: one decoding left the tags in (issue 15, item 6).
        ("<script>alert(1)</script>Breaking <b>news</b>", False, "Breaking news"),
        # The same title escaped once more for an HTML item (feed_parse escapes plain fields).
        ("&lt;script&gt;alert(1)&lt;/script&gt;Breaking", True, "Breaking"),
        # Escaped twice over inside an HTML field: unwrapped until no markup is left.
        ("&amp;lt;b&amp;gt;Kim&amp;lt;/b&amp;gt; meets Putin", True, "Kim meets Putin"),
        ("Q&amp;amp;A:  the\n summit", False, "Q&A: the summit"),
        ("Plain title, x < y", False, "Plain title, x < y"),
        ("Use <b> for bold.", False, "Use <b> for bold."),  # prose about a tag stays text
        ("<p>One</p><p>Two</p>", True, "One\n\nTwo"),
    ],
)
def test_markup_to_text(text, html, expected):
    assert markup_to_text(text, html) == expected


def test_markup_to_text_cleans_plain_text_like_a_body():
    text = "Cafe\u0301  line\nwrapped\n\n\nNext\x00"
    assert markup_to_text(text) == clean_text(text) == "Café line wrapped\n\nNext"


# --- first_sentence -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Kim met Putin. Then he left.", "Kim met Putin.", id="plain"),
        pytest.param("Mr. Kim met Putin. Then he left.", "Mr. Kim met Putin.", id="mr"),
        pytest.param("Dr. Lee and Mrs. Park spoke. Later.", "Dr. Lee and Mrs. Park spoke.", id="dr-mrs"),
        pytest.param("The U.S. Treasury said so. More.", "The U.S. Treasury said so.", id="us"),
        pytest.param("U.N. envoys met. More.", "U.N. envoys met.", id="un-at-start"),
        pytest.param("J. Smith arrived. Later.", "J. Smith arrived.", id="initial"),
        pytest.param("Written by J. R. Smith today. Later.", "Written by J. R. Smith today.", id="initials"),
        pytest.param("Is it over? Yes.", "Is it over?", id="question"),
        pytest.param("Stop! Now.", "Stop!", id="exclamation"),
        pytest.param('He said "it is over." Then left.', 'He said "it is over."', id="straight-quote"),
        pytest.param("He said “it is over.” Then left.", "He said “it is over.”", id="curly-quote"),
        pytest.param("He said ‘no!’ Then left.", "He said ‘no!’", id="single-curly-quote"),
        pytest.param("(It ended.) Then more.", "(It ended.)", id="parenthesis"),
        pytest.param("It rose 3.5 percent. Then fell.", "It rose 3.5 percent.", id="decimal"),
        pytest.param("Visit example.com today. Then.", "Visit example.com today.", id="domain"),
        pytest.param("No ending at all", "No ending at all", id="no-end"),
        pytest.param("Ends here.", "Ends here.", id="single"),
        pytest.param("  Kim\nmet\tPutin.  Then.", "Kim met Putin.", id="whitespace-cleaned"),
        pytest.param("", "", id="empty"),
    ],
)
def test_first_sentence(text, expected):
    assert first_sentence(text) == expected


def test_first_sentence_real_seed_opening():
    text = (
        "A potential meeting between North Korea’s leader Kim Jong Un and Russian President Vladimir "
        "Putin has captured the attention of the international community. This meeting, if it takes "
        "place, could mark a significant turning point."
    )
    assert first_sentence(text) == (
        "A potential meeting between North Korea’s leader Kim Jong Un and Russian President Vladimir "
        "Putin has captured the attention of the international community."
    )


def test_first_sentence_cut_at_word_boundary():
    text = " ".join(["alliance"] * 40) + "."  # 359 characters, one sentence
    result = first_sentence(text)
    # 22 words of 8 letters and 21 spaces = 197 characters, then the ellipsis.
    assert result == " ".join(["alliance"] * 22) + "…"
    assert len(result) == 198
    assert len(result) <= 200


def test_first_sentence_cut_strips_trailing_punctuation():
    words = ["word,"] * 50  # "word, word, ..." 299 characters
    result = first_sentence(" ".join(words))
    assert result == " ".join(["word,"] * 32) + " word…"
    assert result.endswith("word…")
    assert len(result) == 197


def test_first_sentence_cut_custom_limit():
    assert first_sentence("one two three four five six", max_chars=12) == "one two…"
    assert first_sentence("one two three", max_chars=13) == "one two three"


def test_first_sentence_exactly_200_is_kept():
    text = "x" * 199 + "."
    assert first_sentence(text) == text


def test_first_sentence_no_space_to_cut_at():
    assert first_sentence("a" * 300) == "a" * 199 + "…"


# --- count_words ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("North Korea’s", 2, id="curly-apostrophe"),
        pytest.param("North Korea's", 2, id="straight-apostrophe"),
        pytest.param("Kim’s outreach to Russia’s leader", 5, id="two-possessives"),
        pytest.param("don't won’t", 2, id="contractions"),
        pytest.param("'quoted' words", 2, id="outer-quotes"),
        pytest.param("state-run media", 3, id="hyphen"),
        pytest.param("In 2023, 3.5 percent", 5, id="numbers"),
        pytest.param("café Zürich Пхеньян 平壤", 4, id="unicode"),
        pytest.param("  ... — !!! ", 0, id="punctuation-only"),
        pytest.param("", 0, id="empty"),
    ],
)
def test_count_words(text, expected):
    assert count_words(text) == expected


def test_table_cells_do_not_glue_words():
    assert html_to_text("<table><tr><td>Kim</td><td>Putin</td></tr></table>") == "Kim Putin"


def test_no_is_not_an_abbreviation():
    assert first_sentence("The answer was no. Then the talks ended.") == "The answer was no."
