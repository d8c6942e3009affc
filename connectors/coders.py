"""Beam coders for the pydantic records, so elements cross stages as JSON instead of by pickle."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from apache_beam import coders
from pydantic import BaseModel

from schemas.alerts import Alert
from schemas.dedup import LineageUpdate
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


def register_coders() -> None:
    """Register the coders; importing this module does it, calling again is harmless."""
    coders.registry.register_coder(RawRecord, RawRecordCoder)
    coders.registry.register_coder(Article, ArticleCoder)
    coders.registry.register_coder(DeadLetter, DeadLetterCoder)
    coders.registry.register_coder(FeedSpec, FeedSpecCoder)
    coders.registry.register_coder(LineageUpdate, LineageUpdateCoder)
    coders.registry.register_coder(Alert, AlertCoder)


register_coders()
