"""Write a personal-data evaluation set from another generator than the labelled data's: Faker.

    python scripts/firewall_pii_sets.py [--out scripts/firewall_pii]

Writes `pii.jsonl` in the format of the labelled `pii.jsonl` (`{"id", "text", "label", "source",
"entities"}`), so `secureai firewall eval scripts/firewall_pii` prints span precision and recall per
type on it:

- `pii` rows: one value made by Faker in twelve locales (e-mail addresses, phone numbers in each locale's
  own formats, card numbers of seven networks written plain, in groups of four or with dashes, IBANs plain
  or in groups, US SSNs, IPv4 and IPv6 addresses), set in a sentence that names it, in one that does
  not, or alone;
- `no_pii` rows: number-heavy text with nothing personal in it (order, invoice, ticket and tracking
  numbers, ISBN and EAN codes, dates, times and timestamps, versions, prices, coordinates, postal
  addresses, routing numbers): every finding there is a false one.

The firewall's patterns were not written from these rows. Faker's output depends on its version (the
rows record it); the seeds are fixed, so one version always writes the same file. Faker comes with the
`dev` extra; nothing at run time needs it.
"""

from __future__ import annotations

import argparse
import datetime
import random
from collections.abc import Callable
from pathlib import Path

import faker
from faker import Faker
from firewall_eval_sets import write_jsonl

OUT = Path(__file__).resolve().parent / "firewall_pii"
SEED = 11
ROWS_PER_TYPE = 200
NEGATIVE_ROWS = 600
END = datetime.datetime(2026, 1, 1)  # dates and times are drawn before it, not before "now": the same file
LOCALES = (
    "en_US", "en_GB", "de_DE", "fr_FR", "en_AU", "en_IN",
    "es_ES", "it_IT", "nl_NL", "en_CA", "pl_PL", "pt_BR",
)  # fmt: skip
# Sentences for each type: with a word that names the value, without one, and the value alone.
SENTENCES = {
    "EMAIL_ADDRESS": [
        "Email me at {v}.", "Contact: {v}", "send the draft to {v} before Friday", "{v}",
        "Can you check why {v} bounces?",
    ],
    "PHONE_NUMBER": [
        "Call me at {v}.", "My phone number is {v}", "Tel: {v}", "You can reach me on {v} tomorrow.",
        "mobile {v}", "Please ring {v} after five.", "Her number: {v}", "{v}",
        "The office line, {v}, is busy all day.",
    ],
    "CREDIT_CARD": [
        "My card number is {v}.", "Charge {v} please", "card: {v} exp 04/27", "Use the Visa {v}",
        "{v}", "Why was {v} declined at checkout?",
    ],
    "IBAN_CODE": [
        "IBAN: {v}", "Please transfer the deposit to {v}.", "{v}", "account {v} at my bank",
        "Wire it to {v} by Monday",
    ],
    "US_SSN": ["My SSN is {v}.", "SSN {v}", "social security number: {v}", "{v}", "Fill in {v} on line 4."],
    "IP_ADDRESS": [
        "Server at {v} is down.", "ip={v}", "{v}", "connect to {v} on port 8080",
        "The host {v} keeps timing out", "Block requests from {v} in the firewall.",
    ],
}  # fmt: skip
CARD_TYPES = ("visa16", "mastercard", "amex", "discover", "visa13", "jcb16", "diners")


def _value(kind: str, fake: Faker, us: Faker, rng: random.Random) -> str:
    if kind == "EMAIL_ADDRESS":
        return str(fake.email())
    if kind == "PHONE_NUMBER":
        return str(fake.phone_number())
    if kind == "CREDIT_CARD":
        number = str(fake.credit_card_number(card_type=rng.choice(CARD_TYPES)))
        if len(number) == 16 and rng.random() < 0.5:
            return rng.choice(" -").join(number[i : i + 4] for i in range(0, 16, 4))
        return number
    if kind == "IBAN_CODE":
        iban = str(fake.iban())
        return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)) if rng.random() < 0.5 else iban
    if kind == "US_SSN":
        return str(us.ssn())
    if kind == "IP_ADDRESS":
        return str(fake.ipv4()) if rng.random() < 0.6 else str(fake.ipv6())
    raise ValueError(kind)


def pii_rows(fakers: dict[str, Faker], rng: random.Random) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for kind, sentences in SENTENCES.items():
        for _ in range(ROWS_PER_TYPE):
            locale = rng.choice(LOCALES)
            value = _value(kind, fakers[locale], fakers["en_US"], rng)
            text = rng.choice(sentences).replace("{v}", value)
            start = text.index(value)
            rows.append(
                {
                    "id": f"faker-{len(rows)}",
                    "text": text,
                    "label": "pii",
                    "source": f"faker {faker.VERSION}:{locale}",
                    "entities": [{"type": kind, "start": start, "end": start + len(value)}],
                }
            )
    return rows


def _negatives(fake: Faker, local: Callable[[], Faker], rng: random.Random) -> list[Callable[[], str]]:
    def digits(low: int, high: int) -> str:
        return str(fake.random_number(digits=rng.randint(low, high), fix_len=True))

    def day(pattern: str = "%Y-%m-%d") -> str:
        return str(fake.date(pattern=pattern, end_datetime=END))

    def clock() -> str:
        return str(fake.time(end_datetime=END))

    def version() -> str:
        return f"{rng.randint(1, 20)}.{rng.randint(0, 40)}.{rng.randint(0, 99)}"

    return [
        lambda: f"Order number {digits(7, 12)} shipped on {day()}.",
        lambda: f"Invoice {digits(9, 9)} is due {day('%d/%m/%Y')}.",
        lambda: f"The book has ISBN {fake.isbn13()} (older printings: {fake.isbn10()}).",
        lambda: f"EAN {fake.ean13()} costs {fake.pricetag()}",
        lambda: f"Meet at {clock()} on {day()} in room {rng.randint(100, 999)}.",
        lambda: f"Tracking: {digits(10, 22)}",
        lambda: f"Routing number {fake.aba()}, account {fake.bban()}",
        lambda: f"Version {version()} of {fake.iso8601(end_datetime=END)}",
        lambda: f"Coordinates {fake.latitude()}, {fake.longitude()}",
        lambda: f"Ship it to {local().address()}",
        lambda: f"Population {digits(7, 10)} as of {day('%Y')}",
        lambda: f"Ticket {digits(8, 8)} from {day()} was reopened",
        lambda: f"The serial is {fake.bothify('??-########')} and the batch {digits(8, 8)}",
        lambda: f"My customer number is {digits(7, 11)}",
        lambda: f"Case {digits(9, 9)}: hearing at {clock()}",
        lambda: f"Call reference {digits(10, 10)} about the delivery",
        lambda: f"Her number of items was {digits(7, 7)}",
    ]  # fmt: skip


def no_pii_rows(fakers: dict[str, Faker], rng: random.Random, first_id: int) -> list[dict[str, object]]:
    makers = _negatives(fakers["en_US"], lambda: fakers[rng.choice(LOCALES)], rng)
    rows: list[dict[str, object]] = []
    for i in range(NEGATIVE_ROWS):
        rows.append(
            {
                "id": f"faker-{first_id + i}",
                "text": makers[i % len(makers)](),
                "label": "no_pii",
                "source": f"faker {faker.VERSION}",
                "entities": [],
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    fakers = {locale: Faker(locale) for locale in LOCALES}
    for i, fake in enumerate(fakers.values()):
        fake.seed_instance(SEED + i)
    rows = pii_rows(fakers, rng)
    rows += no_pii_rows(fakers, rng, len(rows))
    write_jsonl(args.out / "pii.jsonl", rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
