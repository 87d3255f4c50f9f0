"""metrics.wordnet builds an NLTK WordNet data dir from Debian's wordnet-base files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from metrics.compute.automatic.generation import wordnet_find, wordnet_load
from metrics.wordnet import DEBIAN_WORDNET, LEXNAMES, main, wordnet_data_dir_build


@pytest.fixture
def debian_wordnet() -> Path:
    """Debian's WordNet dir; skipped when absent, except on CI (CI=true) where it must exist."""
    if not (DEBIAN_WORDNET / "data.noun").is_file():
        message = f"{DEBIAN_WORDNET} is absent: apt-get install wordnet-base wordnet-sense-index"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return DEBIAN_WORDNET


def test_lexnames_table_has_the_45_wordnet_3_files() -> None:
    assert len(LEXNAMES) == 45
    assert LEXNAMES[0] == ("adj.all", 3) and LEXNAMES[3] == ("noun.Tops", 1)
    assert LEXNAMES[29] == ("verb.body", 2) and LEXNAMES[44] == ("adj.ppl", 3)


def test_build_makes_a_data_dir_nltk_reads(tmp_path: Path, debian_wordnet: Path) -> None:
    # given Debian's files; when built; then nltk's reader opens it and lexnames line up
    root = wordnet_data_dir_build(tmp_path / "nltk_data")
    folder = root / "corpora" / "wordnet"
    lines = (folder / "lexnames").read_text().splitlines()
    assert lines[5] == "05\tnoun.animal\t1" and len(lines) == 45
    assert wordnet_find(root) == folder
    wordnet = wordnet_load(folder)
    assert wordnet.get_version() == "3.0"
    assert wordnet.synset("dog.n.01").lexname() == "noun.animal"
    assert wordnet.synset("run.v.01").lexname() == "verb.motion"
    assert wordnet.lemma_from_key("dog%1:05:00::").synset().name() == "dog.n.01"


def test_build_is_idempotent(tmp_path: Path, debian_wordnet: Path) -> None:
    root = wordnet_data_dir_build(tmp_path)
    before = {p.name: p.stat().st_mtime_ns for p in (root / "corpora" / "wordnet").iterdir()}
    wordnet_data_dir_build(tmp_path)
    after = {p.name: p.stat().st_mtime_ns for p in (root / "corpora" / "wordnet").iterdir()}
    assert after == before
    assert not any(name.endswith(".partial") for name in after)


def test_missing_source_raises_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="wordnet-base"):
        wordnet_data_dir_build(tmp_path / "out", source=tmp_path / "nowhere")


def test_cli_prints_the_data_dir(tmp_path: Path, debian_wordnet: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "nltk_data")]) == 0
    assert capsys.readouterr().out.strip() == str((tmp_path / "nltk_data").resolve())
    assert main([str(tmp_path / "x"), "--source", str(tmp_path / "none")]) == 1
    assert "error:" in capsys.readouterr().err


def test_the_english_reader_scores_meteor_as_nltks_own_reader(tmp_path: Path,
                                                               debian_wordnet: Path) -> None:
    # given the same data dir read by nltk's stock reader and by the platform's (which skips
    # the multilingual synset map)
    import warnings

    from nltk.corpus.reader.wordnet import WordNetCorpusReader
    from nltk.translate.meteor_score import meteor_score

    folder = wordnet_data_dir_build(tmp_path / "nltk_data") / "corpora" / "wordnet"
    ours = wordnet_load(folder)  # first: it adds the data dir to nltk.data.path, which nltk
    with warnings.catch_warnings():  # requires of every corpus folder it opens
        warnings.simplefilter("ignore", UserWarning)
        stock = WordNetCorpusReader(str(folder), None)
    pairs = [
        ("the cat sat on the mat", "a feline was sitting upon the rug"),
        ("he runs a small company", "she operates a little business"),
        ("the automobile is fast", "the car moves quickly"),
    ]
    # when METEOR (which uses synonyms) scores sentence pairs with each
    # then the scores are equal, and only the multilingual map is missing
    for ref, hyp in pairs:
        assert meteor_score([ref.split()], hyp.split(), wordnet=ours) == \
            meteor_score([ref.split()], hyp.split(), wordnet=stock)
    assert ours.map30 is None and stock.map30
    assert ours.synsets("car") == stock.synsets("car")
