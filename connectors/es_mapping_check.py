"""Do the indices behind Wirewatch's aliases map its fields the way its queries need?

An index someone created by hand, or one Elasticsearch created on the fly from a document written
before `wirewatch es setup`, can sit behind the alias with other field types (`id` as text, or not
mapped at all). Setup leaves such an index alone (it was not built by this code), writes then go
through, and searches fail later with "No mapping found for [id] in order to sort on". The
shipped component templates say what every field must be; this compares each index with them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

MAX_FIELDS_SHOWN = 3


def field_types(properties: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(dotted path, type) of every field of a mapping's `properties`; an object field with no
    `type` of its own is "object", as Elasticsearch reports it. Multi-fields are not listed."""
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        yield path, str(spec.get("type", "object"))
        if "properties" in spec:
            yield from field_types(spec["properties"], f"{path}.")


def _managed_version(mappings: Mapping[str, Any]) -> int | None:
    meta = mappings.get("_meta", {})
    version = meta.get("template_version")
    return version if meta.get("managed_by") == "wirewatch" and isinstance(version, int) else None


def index_problem(index: str, mappings: Mapping[str, Any], shipped: Mapping[str, Any]) -> str | None:
    """One line naming the fields `index` maps unlike `shipped` (a component template's mappings),
    or None when every field fits.

    A field the index lacks counts only when the index was not built by Wirewatch, or was built
    from the version shipped or a newer one: an older Wirewatch index gains new fields on the
    next `wirewatch es setup`.
    """
    expected = dict(field_types(shipped["properties"]))
    found = dict(field_types(mappings.get("properties", {})))
    version = _managed_version(mappings)
    shipped_version = shipped.get("_meta", {}).get("template_version", 0)
    missing_is_wrong = version is None or version >= shipped_version
    wrong: list[str] = []
    for path, kind in expected.items():
        have = found.get(path)
        if have is None:
            if missing_is_wrong:
                wrong.append(f"{path} is not mapped (needs {kind})")
        elif have != kind:
            wrong.append(f"{path} is {have} (needs {kind})")
    if not wrong:
        return None
    more = f" and {len(wrong) - MAX_FIELDS_SHOWN} more" if len(wrong) > MAX_FIELDS_SHOWN else ""
    return f"index {index} maps fields unlike Wirewatch: {', '.join(wrong[:MAX_FIELDS_SHOWN])}{more}"


def fix_hint(prefix: str) -> str:
    return (
        f"this index was not built by `wirewatch es setup`: keep its documents elsewhere if you need "
        f"them, then `wirewatch es reset --yes --es-index-prefix {prefix}` (deletes the {prefix}-* "
        "indices) and `wirewatch es setup`"
    )
