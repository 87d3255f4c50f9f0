"""Fixtures for the automatic-metric tests: a WordNet data dir built from Debian's files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from metrics.wordnet import DEBIAN_WORDNET, wordnet_data_dir_build


def wordnet_or_skip(target: Path) -> Path:
    """Build the NLTK WordNet dir under target; skip without Debian's WordNet (fail on CI)."""
    if not (DEBIAN_WORDNET / "data.noun").is_file():
        message = (f"{DEBIAN_WORDNET} is absent: apt-get install wordnet-base "
                   "wordnet-sense-index")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return wordnet_data_dir_build(target)


@pytest.fixture(scope="session")
def wordnet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An NLTK data dir holding corpora/wordnet, shared by the session."""
    return wordnet_or_skip(tmp_path_factory.mktemp("nltk_data"))
