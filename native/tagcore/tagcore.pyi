"""The compiled per-article path of `pipelines.tag_match.Tagger` (src/); built by `make install`."""

from collections.abc import Sequence
from typing import Generic, TypeAlias, TypeVar

_Result = TypeVar("_Result")

# (start adjust, end adjust, special, role, actor, rule, via id, (place, via is upper, via starts
#  "the "), [(person, surname entry)], [topic rule], [(start, end, entry) of a name inside this name])
ActorPattern: TypeAlias = tuple[
    int,
    int,
    bool,
    int,
    int,
    int,
    int,
    tuple[bool, bool, bool],
    list[tuple[int, int]],
    Sequence[int],
    Sequence[tuple[int, int, int]],
]
Entry: TypeAlias = tuple[int, float, str]  # actor, weight, via
# (start adjust, end adjust, prefix, [topic rule], [(context rule, sign)], single rule, complex,
#  [topic rule a longer capitalised name hides])
TopicPattern: TypeAlias = tuple[int, int, bool, list[int], list[tuple[int, int]], int, bool, list[int]]
Flavour: TypeAlias = tuple[bool, Sequence[ActorPattern], list[Entry], list[TopicPattern]]
Hits: TypeAlias = list[tuple[int, int, int]]
# The automata: (actor keys, match kind, topic keys, match kind) of the general flavour, kinds named
# as ahocorasick_rs.MatchKind's members ("LeftmostLongest", "Standard"); the ASCII keys among them
# are the ASCII flavour's rows, in order.
Automata: TypeAlias = tuple[list[str], str, list[str], str]

class Core(Generic[_Result]):  # of the result class it is given (TagResult)
    def __init__(
        self,
        classes: tuple[type, type, type, type[_Result]],
        versions: tuple[str, str],
        actors: list[tuple[tuple[str, str, str, str | None], int, bool, bool]],
        countries: int,
        topics: list[tuple[str, str, str, float, int]],
        topic_rules: list[tuple[int, str, str, float]],
        rules: list[tuple[bool, bool, list[int], list[int], list[int]]],
        sport_topic: int,
        ascii: Flavour,
        general: Flavour,
        words: list[list[str]],
        automata: Automata,
    ) -> None: ...
    def map_ascii(self, text: str) -> tuple[bytes, bytes] | None:
        """(padded matching text reversed, lower-cased) when `text` is ASCII once mapped, else None."""
    def hits(self, text: str) -> tuple[Hits, Hits] | None:
        """(actor hits, topic hits) in characters, of the automata of the text's flavour; None for a
        lone surrogate."""
    def lowered(self, text: str) -> str | None:
        """`matching_text(text)`, the lower-cased padded matching text; None for a lone surrogate."""
    def tag_text(self, text: str, title_len: int, low: str, regex_hits: Hits) -> _Result:
        """`Tagger.tag` with the automata run here, for `low = self.lowered(text)` (not None)."""
    def tag(
        self,
        text: str,
        title_len: int,
        low: str,
        ascii: bool,
        actor_hits: Hits,
        topic_hits: Hits,
        regex_hits: Hits,
    ) -> _Result: ...

def round4(x: float) -> float:
    """`round(x, 4)`, computed as Python computes it."""

# The word loops of schemas/ (src/words.rs); each gives exactly what its numpy path gives.
def count_words(text: str) -> int:
    """`schemas.text.count_words(text)`."""

def clean_paragraphs(text: str) -> str:
    """`schemas.text.clean_text(text)` for an NFC text with no `\r`."""

def canonical_utf8(folded: str) -> bytes:
    """The UTF-8 of `schemas.ids.canonical_text` for an already NFKC-normalized, casefolded text."""

def minhash(folded: str, num_perm: int, k: int, seed_mix: int, probes: bytes) -> bytes:
    """`schemas.near_dup.minhash_array` of an already folded text, as native uint64 bytes."""

def band_keys(signature: bytes, bands: int, rows: int) -> list[str]:
    """`schemas.near_dup.band_keys` of a signature given as native uint64 bytes."""
