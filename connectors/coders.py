"""Beam coders for the pydantic records, so elements cross stages as JSON instead of by pickle."""

from __future__ import annotations

import struct
from typing import Any, Generic, TypeVar

import orjson
from apache_beam import coders
from pydantic import BaseModel

from schemas.alerts import Alert
from schemas.dedup import Candidate, Fingerprint, LineageUpdate, StoredDoc, sighting_of
from schemas.feeds import FeedSpec
from schemas.records import Article, DeadLetter, RawRecord

ModelT = TypeVar("ModelT", bound=BaseModel)


class _PydanticJsonCoder(coders.Coder, Generic[ModelT]):
    """Encodes a model with pydantic-core's JSON writer and re-validates on decode."""

    model: type[ModelT]

    def encode(self, value: ModelT) -> bytes:
        return value.model_dump_json().encode("utf-8")

    def decode(self, encoded: bytes) -> ModelT:
        return self.model.model_validate_json(encoded)

    def is_deterministic(self) -> bool:
        return True

    def to_type_hint(self) -> Any:
        return self.model

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))


class RawRecordCoder(_PydanticJsonCoder[RawRecord]):
    model = RawRecord


class ArticleCoder(_PydanticJsonCoder[Article]):
    model = Article


class DeadLetterCoder(_PydanticJsonCoder[DeadLetter]):
    model = DeadLetter


class FeedSpecCoder(_PydanticJsonCoder[FeedSpec]):
    model = FeedSpec


class LineageUpdateCoder(_PydanticJsonCoder[LineageUpdate]):
    model = LineageUpdate


class AlertCoder(_PydanticJsonCoder[Alert]):
    model = Alert


_LENGTHS = struct.Struct(">II")


class CandidateCoder(coders.Coder):
    """An article with its fingerprint and stored matches, as they cross the dedup shuffles: the
    article as JSON, the keys and stored matches as one orjson list, the signature as raw bytes.
    The order and the sighting are derived from the article again (what `fingerprint` does)."""

    _article = ArticleCoder()

    def encode(self, value: Candidate) -> bytes:
        fp = value.fingerprint
        article = self._article.encode(value.article)
        stored = [
            [d.article_id, d.duplicate_of, sorted(d.exact_keys), sorted(d.near_keys), d.signature.hex()]
            for d in value.stored
        ]
        meta = orjson.dumps([fp.order[0], fp.exact_keys, fp.near_keys, stored])
        return _LENGTHS.pack(len(article), len(meta)) + article + meta + fp.signature

    def decode(self, encoded: bytes) -> Candidate:
        article_len, meta_len = _LENGTHS.unpack_from(encoded)
        start = _LENGTHS.size
        article = self._article.decode(encoded[start : start + article_len])
        when, exact, near, stored = orjson.loads(
            encoded[start + article_len : start + article_len + meta_len]
        )
        fp = Fingerprint(
            article_id=article.id,
            order=(when, article.id),
            exact_keys=tuple(exact),
            near_keys=tuple(near),
            signature=encoded[start + article_len + meta_len :],
            sighting=sighting_of(article),
        )
        docs = tuple(
            StoredDoc(i, dup, frozenset(e), frozenset(n), "", bytes.fromhex(sig))
            for i, dup, e, n, sig in stored
        )
        return Candidate(article, fp, docs)

    def is_deterministic(self) -> bool:
        return True

    def to_type_hint(self) -> Any:
        return Candidate

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self))


def register_coders() -> None:
    """Register the coders; importing this module does it, calling again is harmless."""
    coders.registry.register_coder(RawRecord, RawRecordCoder)
    coders.registry.register_coder(Article, ArticleCoder)
    coders.registry.register_coder(DeadLetter, DeadLetterCoder)
    coders.registry.register_coder(FeedSpec, FeedSpecCoder)
    coders.registry.register_coder(LineageUpdate, LineageUpdateCoder)
    coders.registry.register_coder(Alert, AlertCoder)
    coders.registry.register_coder(Candidate, CandidateCoder)


register_coders()
