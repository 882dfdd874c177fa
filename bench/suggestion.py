"""Suggestion accuracy on the labelled Vietnamese set (``speech/data/labelled_vi.tsv``).

Prints, for the keyword rules of ``speech/rules.toml``: topic and category accuracy on the text
as written, on the same text without diacritics, per topic; then what operators' corrections
add: two-fold, the examples of one half that the rules get wrong become corrections (what an
operator would fix) and the other half is scored with and without the learned keywords.

The rules were written before the labelled sentences and are not tuned on them; the set is small
(~24 sentences per topic), so ±3 points is noise. Asserts nothing; never part of the tests.

    .venv/bin/python -m bench.suggestion [--rules FILE] [--data FILE] [--seed N]
"""

from __future__ import annotations

import argparse
import random
from collections import Counter, defaultdict
from pathlib import Path

from speech.suggest import (
    DEFAULT_RULES,
    LABELLED,
    Correction,
    Suggester,
    accuracy,
    fold,
    load_labelled,
    load_rules,
)
from tickets.model import Category

Example = tuple[str, str, Category]


def corrections_from(
    suggester: Suggester, examples: list[Example], agency: dict[str, str]
) -> list[Correction]:
    wrong = []
    for text, topic, category in examples:
        suggestion = suggester.suggest(text)
        if suggestion is None or suggestion.topic != topic:
            wrong.append(Correction(text, category, agency[topic]))
    return wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=Path, default=DEFAULT_RULES)
    parser.add_argument("--data", type=Path, default=LABELLED)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    rules = load_rules(args.rules)
    examples = load_labelled(args.data)
    base = Suggester(rules)
    agency = {name: topic.agency for name, topic in rules.topics.items()}
    print(f"labelled set: {len(examples)} sentences, {len({t for _, t, _ in examples})} topics")
    print()
    print(f"{'input':<28}{'topic acc.':>12}{'category acc.':>16}{'no suggestion':>16}")
    for label, rows in (
        ("as written (with dấu)", examples),
        ("without diacritics", [(fold(t), topic, c) for t, topic, c in examples]),
    ):
        acc = accuracy(base, rows)
        none = sum(base.suggest(t) is None for t, _, _ in rows) / len(rows)
        print(f"{label:<28}{acc['topic']:>12.1%}{acc['category']:>16.1%}{none:>16.1%}")

    print()
    print(f"{'topic':<16}{'n':>4}{'correct':>9}{'acc.':>8}   most frequent error")
    by_topic: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        by_topic[example[1]].append(example)
    for topic, rows in sorted(by_topic.items()):
        errors: Counter[str] = Counter()
        hits = 0
        for text, _, _ in rows:
            suggestion = base.suggest(text)
            got = suggestion.topic if suggestion else "(none)"
            if got == topic:
                hits += 1
            else:
                errors[got] += 1
        worst = ", ".join(f"{t} ×{n}" for t, n in errors.most_common(2)) or "-"
        print(f"{topic:<16}{len(rows):>4}{hits:>9}{hits / len(rows):>8.0%}   {worst}")

    confidences = [s.confidence for t, _, _ in examples if (s := base.suggest(t))]
    right = [
        s.confidence for t, topic, _ in examples if (s := base.suggest(t)) and s.topic == topic
    ]
    wrong = [
        s.confidence for t, topic, _ in examples if (s := base.suggest(t)) and s.topic != topic
    ]
    print()
    print(
        f"mean confidence: all {sum(confidences) / len(confidences):.2f}, "
        f"right {sum(right) / len(right):.2f}, wrong {sum(wrong) / max(len(wrong), 1):.2f}"
    )

    print()
    print(f"learning from operators' corrections (two-fold, seed {args.seed}):")
    shuffled = list(examples)
    random.Random(args.seed).shuffle(shuffled)
    halves = [shuffled[::2], shuffled[1::2]]
    print(f"{'fold':<6}{'corrections':>13}{'learned kw':>12}{'topic acc. before':>19}{'after':>8}")
    totals = [0.0, 0.0]
    for n, (train, test) in enumerate((halves, halves[::-1])):
        corrections = corrections_from(base, train, agency)
        learned = Suggester(rules, corrections)
        before = accuracy(base, test)["topic"]
        after = accuracy(learned, test)["topic"]
        totals[0] += before / 2
        totals[1] += after / 2
        print(f"{n + 1:<6}{len(corrections):>13}{learned.learned:>12}{before:>19.1%}{after:>8.1%}")
    print(f"{'mean':<6}{'':>13}{'':>12}{totals[0]:>19.1%}{totals[1]:>8.1%}")


if __name__ == "__main__":
    main()
