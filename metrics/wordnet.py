"""Build an NLTK WordNet data dir (`<dir>/corpora/wordnet/`) from Debian's wordnet-base files.

Debian's `wordnet-base` and `wordnet-sense-index` install the WordNet 3.0 database in
/usr/share/wordnet but no `lexnames` file, which nltk's WordNetCorpusReader needs; it is
written here from WordNet 3.0's lexicographer file table (lexnames(5WN)). Point NLTK_DATA
at the returned directory. Usage: `python -m metrics.wordnet TARGET`.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

DEBIAN_WORDNET = Path("/usr/share/wordnet")

# WordNet 3.0 lexnames: file number, lexicographer file name, syntactic category
# (1 noun, 2 verb, 3 adjective, 4 adverb).
LEXNAMES: tuple[tuple[str, int], ...] = (
    ("adj.all", 3), ("adj.pert", 3), ("adv.all", 4), ("noun.Tops", 1), ("noun.act", 1),
    ("noun.animal", 1), ("noun.artifact", 1), ("noun.attribute", 1), ("noun.body", 1),
    ("noun.cognition", 1), ("noun.communication", 1), ("noun.event", 1), ("noun.feeling", 1),
    ("noun.food", 1), ("noun.group", 1), ("noun.location", 1), ("noun.motive", 1),
    ("noun.object", 1), ("noun.person", 1), ("noun.phenomenon", 1), ("noun.plant", 1),
    ("noun.possession", 1), ("noun.process", 1), ("noun.quantity", 1), ("noun.relation", 1),
    ("noun.shape", 1), ("noun.state", 1), ("noun.substance", 1), ("noun.time", 1),
    ("verb.body", 2), ("verb.change", 2), ("verb.cognition", 2), ("verb.communication", 2),
    ("verb.competition", 2), ("verb.consumption", 2), ("verb.contact", 2),
    ("verb.creation", 2), ("verb.emotion", 2), ("verb.motion", 2), ("verb.perception", 2),
    ("verb.possession", 2), ("verb.social", 2), ("verb.stative", 2), ("verb.weather", 2),
    ("adj.ppl", 3),
)

# The database files nltk reads (index.sense comes from wordnet-sense-index).
REQUIRED_FILES: tuple[str, ...] = tuple(
    f"{kind}.{pos}" for kind in ("data", "index") for pos in ("adj", "adv", "noun", "verb")
) + ("adj.exc", "adv.exc", "noun.exc", "verb.exc", "index.sense")
OPTIONAL_FILES: tuple[str, ...] = ("cntlist", "cntlist.rev", "frames.vrb", "sentidx.vrb",
                                   "sents.vrb")


def lexnames_text() -> str:
    """The `lexnames` file: "NN<TAB>name<TAB>category" per line, numbered 00–44."""
    return "".join(f"{i:02d}\t{name}\t{cat}\n" for i, (name, cat) in enumerate(LEXNAMES))


def wordnet_data_dir_build(target: Path, source: Path = DEBIAN_WORDNET) -> Path:
    """Copy the WordNet files into `target/corpora/wordnet/` and write `lexnames`; idempotent.

    Returns `target`, the directory to put on NLTK_DATA. Raises FileNotFoundError naming
    the first missing source file (install wordnet-base and wordnet-sense-index).
    """
    absent = [name for name in REQUIRED_FILES if not (source / name).is_file()]
    if absent:
        raise FileNotFoundError(f"{source / absent[0]} is missing (install Debian's "
                                "wordnet-base and wordnet-sense-index)")
    folder = target / "corpora" / "wordnet"
    folder.mkdir(parents=True, exist_ok=True)
    for name in REQUIRED_FILES + OPTIONAL_FILES:
        src, dst = source / name, folder / name
        if src.is_file() and not (dst.is_file() and filecmp.cmp(src, dst, shallow=True)):
            # Copy then rename so a concurrent reader never sees a half-written file.
            partial = dst.with_name(dst.name + ".partial")
            shutil.copyfile(src, partial)
            shutil.copystat(src, partial)
            partial.replace(dst)
    lexnames = folder / "lexnames"
    text = lexnames_text()
    if not lexnames.is_file() or lexnames.read_text(encoding="ascii") != text:
        partial = lexnames.with_name("lexnames.partial")
        partial.write_text(text, encoding="ascii")
        partial.replace(lexnames)
    return target


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: build the data dir under TARGET and write its path to stdout."""
    parser = argparse.ArgumentParser(prog="python -m metrics.wordnet", description=__doc__)
    parser.add_argument("target", type=Path, help="NLTK data dir to create (use as NLTK_DATA)")
    parser.add_argument("--source", type=Path, default=DEBIAN_WORDNET,
                        help="WordNet database dir (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        built = wordnet_data_dir_build(args.target, args.source)
    except (FileNotFoundError, OSError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    sys.stdout.write(f"{built.resolve()}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
