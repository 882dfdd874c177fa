"""Suggest a ticket's category and agency from what the caller said (Vietnamese).

Pure domain: keyword rules per topic from configuration (``speech/rules.toml``), each topic
naming its ticket category and the agency that handles it, plus rules learned from operators'
corrections. Text is normalised (Unicode NFC, case folded, punctuation dropped); a keyword that
matches with its diacritics counts fully, one that only matches once diacritics are removed
(speech models or operators that drop them) counts ``folded_weight`` of it. The score of a topic
is the sum of its matched keywords' weights; the confidence compares the best topic with the
runner-up and grows with the evidence.
"""

from __future__ import annotations

import itertools
import math
import re
import tomllib
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from speech.errors import RulesError
from tickets.model import Category

DEFAULT_RULES = Path(__file__).resolve().parent / "rules.toml"
LABELLED = Path(__file__).resolve().parent / "data" / "labelled_vi.tsv"
_PUNCTUATION = re.compile(r"[^\w\s]+")
_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    """NFC, case folded, punctuation removed, single spaces."""
    text = unicodedata.normalize("NFC", text).casefold()
    text = _PUNCTUATION.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def fold(text: str) -> str:
    """Without diacritics (``đ`` → ``d``): ``ngập lụt`` → ``ngap lut``."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TopicRule(_Strict):
    label: str
    category: Category
    agency: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    keywords: dict[str, float]


class RulesFile(_Strict):
    version: int = 1
    min_score: float = Field(default=1.0, gt=0)
    folded_weight: float = Field(default=0.6, ge=0, le=1)
    learned_weight: float = Field(default=1.0, ge=0)
    topics: dict[str, TopicRule]


def load_rules(path: Path = DEFAULT_RULES) -> RulesFile:
    try:
        with path.open("rb") as fh:
            return RulesFile.model_validate(tomllib.load(fh))
    except OSError as err:
        raise RulesError(f"cannot read suggestion rules {path}: {err}") from err
    except tomllib.TOMLDecodeError as err:
        raise RulesError(f"suggestion rules {path} are not valid TOML: {err}") from err
    except ValidationError as err:
        raise RulesError(f"suggestion rules {path} are invalid: {err}") from err


@dataclass(frozen=True)
class Suggestion:
    topic: str
    category: Category
    agency: str
    score: float
    confidence: float
    matched: tuple[str, ...]


@dataclass(frozen=True)
class Correction:
    """An operator's verdict on a ticket: what the caller said and where it really belongs."""

    text: str
    category: Category
    agency: str


@dataclass(frozen=True)
class _Topic:
    name: str
    category: Category
    agency: str
    exact: dict[str, float]  # normalised keyword → weight
    folded: dict[str, float] = field(default_factory=dict)  # folded keyword → weight


def _padded(text: str) -> str:
    return f" {text} "


class Suggester:
    def __init__(self, rules: RulesFile, corrections: Iterable[Correction] = ()) -> None:
        self._rules = rules
        self._topics: dict[str, _Topic] = {}
        for name, rule in rules.topics.items():
            keywords = {normalise(k): w for k, w in rule.keywords.items()}
            self._add(name, rule.category, rule.agency, keywords)
        self.learned = 0
        self.learn(corrections)

    def _add(self, name: str, category: Category, agency: str, keywords: dict[str, float]) -> None:
        topic = self._topics.get(name)
        if topic is None:
            topic = _Topic(name, category, agency, {})
            self._topics[name] = topic
        for keyword, weight in keywords.items():
            if keyword and keyword not in topic.exact:
                topic.exact[keyword] = weight
                topic.folded.setdefault(fold(keyword), weight)

    def topic_of(self, category: Category, agency: str) -> str:
        for topic in self._topics.values():
            if (topic.category, topic.agency) == (category, agency):
                return topic.name
        return f"{category.value}:{agency}"

    def learn(self, corrections: Iterable[Correction]) -> int:
        """Add the words and word pairs that operators' corrections keep pointing to one topic
        (seen at least twice, ≥ 80 % of the time with that topic) as keywords of that topic."""
        examples = [
            (normalise(c.text), self.topic_of(c.category, c.agency), c) for c in corrections
        ]
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        targets: dict[str, Correction] = {}
        for text, topic, correction in examples:
            targets[topic] = correction
            for gram in set(_ngrams(text)):
                counts[gram][topic] += 1
        added = 0
        for gram, by_topic in counts.items():
            topic, seen = by_topic.most_common(1)[0]
            if seen >= 2 and seen / sum(by_topic.values()) >= 0.8:
                target = targets[topic]
                before = len(self._topics.get(topic, _Topic("", target.category, "", {})).exact)
                self._add(topic, target.category, target.agency, {gram: self._rules.learned_weight})
                added += len(self._topics[topic].exact) - before
        self.learned += added
        return added

    def scores(self, text: str) -> dict[str, tuple[float, list[str]]]:
        exact = _padded(normalise(text))
        folded = _padded(fold(exact.strip()))
        found: dict[str, tuple[float, list[str]]] = {}
        for topic in self._topics.values():
            score = 0.0
            matched: list[str] = []
            for keyword, weight in topic.exact.items():
                if _padded(keyword) in exact:
                    score += weight
                    matched.append(keyword)
                elif _padded(fold(keyword)) in folded:
                    score += weight * self._rules.folded_weight
                    matched.append(fold(keyword))
            if score > 0:
                found[topic.name] = (score, matched)
        return found

    def suggest(self, text: str) -> Suggestion | None:
        ranked = sorted(self.scores(text).items(), key=lambda item: item[1][0], reverse=True)
        if not ranked or ranked[0][1][0] < self._rules.min_score:
            return None
        name, (best, matched) = ranked[0]
        runner_up = ranked[1][1][0] if len(ranked) > 1 else 0.0
        confidence = (best / (best + runner_up)) * (1.0 - math.exp(-best / 2.0))
        topic = self._topics[name]
        return Suggestion(
            topic=name,
            category=topic.category,
            agency=topic.agency,
            score=round(best, 3),
            confidence=round(confidence, 3),
            matched=tuple(matched),
        )


_STOPWORDS = frozenset(
    [
        "tôi",
        "ở",
        "có",
        "là",
        "và",
        "của",
        "bị",
        "đã",
        "rất",
        "này",
        "đó",
        "không",
        "cho",
        "với",
        "các",
        "những",
        "được",
        "thì",
        "mà",
        "em",
        "anh",
        "chị",
        "ơi",
        "ạ",
        "xin",
        "cần",
        "gọi",
        "báo",
        "phản",
        "ánh",
        "nhà",
        "chúng",
        "mấy",
        "hôm",
        "nay",
        "lại",
        "quá",
        "đang",
        "ra",
        "vào",
        "lên",
        "một",
        "hai",
        "ba",
        "khi",
        "nên",
        "sao",
        "gì",
        "ai",
        "ông",
        "bà",
        "cô",
        "chú",
        "bác",
        "nhờ",
        "giúp",
        "ngay",
        "từ",
        "đến",
        "trong",
        "ngoài",
        "trên",
        "dưới",
        "cũng",
        "vẫn",
        "còn",
    ]
)


def _ngrams(text: str) -> list[str]:
    words = text.split()
    grams = [w for w in words if w not in _STOPWORDS and len(w) > 1]
    grams += [
        f"{a} {b}"
        for a, b in itertools.pairwise(words)
        if not (a in _STOPWORDS and b in _STOPWORDS)
    ]
    return grams


def accuracy(
    suggester: Suggester, labelled: Sequence[tuple[str, str, Category]]
) -> Mapping[str, float]:
    """Share of ``(text, topic, category)`` examples whose topic / category is suggested."""
    topic_hits = category_hits = 0
    for text, topic, category in labelled:
        suggestion = suggester.suggest(text)
        got_category = suggestion.category if suggestion else Category.UNCLASSIFIED
        topic_hits += suggestion is not None and suggestion.topic == topic
        category_hits += got_category is category
    n = max(len(labelled), 1)
    return {"topic": topic_hits / n, "category": category_hits / n}


def load_labelled(path: Path = LABELLED) -> list[tuple[str, str, Category]]:
    """``topic<TAB>category<TAB>text`` lines (``#`` comments) as ``(text, topic, category)``."""
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            topic, category, text = line.split("\t")
            examples.append((text, topic, Category(category)))
        except ValueError as err:
            raise RulesError(f"{path}:{number}: expected topic, category, text: {err}") from err
    return examples
