"""The built-tagger cache (pipelines.tagger_cache): same tags as a fresh build, never stale, never an
error."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import pytest

from pipelines import tag_match, tagger_cache
from pipelines.tag_match import Tagger, synthetic_articles
from schemas.actors import DEFAULT_FOLDER, RegistryError, load_registry
from schemas.topics import DEFAULT_FILE as DEFAULT_TOPICS


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(tagger_cache.DISABLE_ENV, raising=False)
    return tmp_path / "cache" / "wirewatch" / "tagger"


@pytest.fixture
def registry_loads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The registry folders the taggers built in this test were read from (a cached one reads none)."""
    loads: list[Path] = []
    real = load_registry

    def counting(folder: Path | str = DEFAULT_FOLDER) -> object:
        loads.append(Path(folder))
        return real(folder)

    monkeypatch.setattr(tag_match, "load_registry", counting)
    return loads


def _entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("*.pickle"))


def test_a_cached_tagger_tags_like_a_freshly_built_one(cache: Path, registry_loads: list[Path]) -> None:
    built = Tagger.from_files()
    assert len(_entries(cache)) == 1
    assert len(registry_loads) == 1
    loaded = Tagger.from_files()
    assert len(registry_loads) == 1, "the second tagger was built again instead of loaded"
    python = Tagger.from_files(native=False)
    assert len(registry_loads) == 1
    assert built.native
    assert loaded.native
    assert not python.native
    assert (loaded.registry_version, loaded.patterns) == (built.registry_version, built.patterns)
    articles = synthetic_articles(built.registry, 300)
    articles.append(("Putin warns Europe", "Putin said Zelensky and Xi met in São Paulo. Kim met Lavrov."))
    for title, body in articles:
        expected = built.tag(title, body)
        assert loaded.tag(title, body) == expected
        assert python.tag(title, body) == expected


def test_a_changed_registry_file_is_built_again(
    cache: Path, tmp_path: Path, registry_loads: list[Path]
) -> None:
    folder = tmp_path / "actors"
    shutil.copytree(DEFAULT_FOLDER, folder)
    text = "The Zorblaxian Liberation Front said on Monday it would disarm."
    assert "Q4000001" not in Tagger.from_files(folder).tag("", text).actor_ids
    with (folder / "armed_groups.yaml").open("a", encoding="utf-8") as out:
        out.write(
            "- id: Q4000001\n  kind: armed_group\n  name: Zorblaxian Liberation Front\n"
            "  source: a test fixture\n  aliases: [ZLF]\n"
        )
    assert "Q4000001" in Tagger.from_files(folder).tag("", text).actor_ids
    assert len(registry_loads) == 2
    assert len(_entries(cache)) == 2


def test_a_damaged_entry_is_rebuilt_not_an_error(cache: Path, registry_loads: list[Path]) -> None:
    Tagger.from_files()
    (entry,) = _entries(cache)
    entry.write_bytes(entry.read_bytes()[:1000])  # a write cut short by a full disk, say
    tagger = Tagger.from_files()
    assert len(registry_loads) == 2
    assert "Q7747" in tagger.tag("Putin warns Europe", "Putin spoke.").actor_ids
    Tagger.from_files()
    assert len(registry_loads) == 2, "the rebuilt entry is whole again"


def test_the_cache_can_be_turned_off(
    cache: Path, registry_loads: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(tagger_cache.DISABLE_ENV, "0")
    Tagger.from_files()
    Tagger.from_files()
    assert len(registry_loads) == 2
    assert not cache.exists()


def test_only_the_newest_entries_are_kept(cache: Path) -> None:
    for number in range(tagger_cache.KEEP_ENTRIES + 3):
        tagger_cache.load_or_build(f"{number:040x}", functools.partial(list, [number]), list)
    kept = sorted(int(path.stem, 16) for path in _entries(cache))
    assert len(kept) == tagger_cache.KEEP_ENTRIES
    assert tagger_cache.load_or_build(f"{max(kept):040x}", lambda: ["built"], list) == [max(kept)]


def test_a_registry_that_cannot_be_read_is_reported_as_before(cache: Path, tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match=r"registry\.yaml"):
        Tagger.from_files(tmp_path / "no-such-folder", DEFAULT_TOPICS)
    assert not _entries(cache)
