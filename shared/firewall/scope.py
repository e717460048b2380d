"""Requests that break the operator's own rules: someone else's records asked of an assistant told to
serve only the person signed in, writes asked of a read-only one, another tenant's data.

An HR, support, banking or clinic assistant is often told by its operator whom it serves: "only the
authenticated employee", "help customers with their own account", "never reveal other employees'
personal data". Such an assistant has tools that can reach everyone's records, and the operator's rule is
all that keeps them apart. The attack on it needs no injected instruction and no jailbreak wording: a
colleague's salary, an ex's phone number or the whole office's sick leave, asked for politely with a
reason ("it's for a surprise party", "I won't tell anyone"). Read alone, such a turn is an ordinary
question, and the models score it so; read beside the operator's rule it is a request to break it.

So when the operator's turn limits the assistant to the signed-in person (`guards_others`), a user turn
that asks for a personal record of someone else (`asks_about_others`) is scored as an attack. Both sides
are looked for by words, in the languages the firewall sees most:
- the record: pay, addresses, phone numbers, leave for illness or a child, reviews, disciplinary files,
  an account or a profile;
- whose: a person named by their relation to the user ("my colleague", "mein Kollege", "mi jefa",
  "동료"), in the third person ("her home address", "Anna's payslip"), by name after the record ("the
  file on Kasia Nowak"), as a group ("everyone in the Lyon office", "who in the company"), or by an
  identifier that is not the one the operator gave for the user.
The two must be near each other, so that "can I take leave to care for my dad" or "the salary band of a
Senior Dispatcher" stay questions about the user's own affairs. A request about the user's own records,
or one for aggregate figures the operator allows, names nobody else and passes.

Three more rules are read the same way. An assistant told it is read-only ("read-only", "SELECT
statements only", "never produce DDL or DML") is asked to run a statement that writes (DROP, DELETE,
TRUNCATE, UPDATE ... SET, INSERT INTO, ALTER, GRANT). One told which tenant it serves
("tenant=acme_retail", "tenant_id = 'acme_retail'") is asked to switch to another or to drop the tenant
filter. One told never to reveal secrets is asked for a password, a key or the file that holds them.
`against` gives the rule a user turn asks to break; `rules` reads an operator's instructions once.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import ahocorasick_rs

# The operator limits the assistant to the person signed in, or forbids the records of everyone else.
_GUARDS = re.compile(
    r"\b(?:authenticated|signed[- ]in|logged[- ]in|verified|current)\s+"
    r"(?:customer|user|employee|member|patient|client|account[- ]?holder|caller|student|guest|traveller"
    r"|traveler|person)"
    r"|\b(?:their|his or her|the user's|the customer's)\s+own\s+(?:\w+\s+)?"
    r"(?:records?|accounts?|data|profiles?|information|details|bookings?|orders?|appointments?|payslips?"
    r"|invoices?|claims?|results?|files?|tickets?|prescriptions?)"
    r"|\bself[- ]service\s+only\b"
    r"|\b(?:other|another|any\s+other)\s+(?:employee|customer|user|member|patient|client|tenant|student"
    r"|guest|traveller|traveler|account\s?holder|person|people|staff)"
    # German, Spanish, French, Italian, Portuguese
    r"|\bangemeldete[nr]?\s+(?:mitarbeiter\w*|kund\w*|nutzer\w*|benutzer\w*|patient\w*)"
    r"|\b(?:anderer|andere[nr]?)\s+(?:mitarbeiter\w*|kund\w*|nutzer\w*|patient\w*|gäste|personen)"
    r"|\b(?:otros|otras|de\s+otro)\s+(?:empleados?|clientes?|usuarios?|pacientes?)"
    r"|\b(?:empleado|cliente|usuario|paciente)\s+autenticad[oa]"
    r"|\b(?:d'autres|des\s+autres|autres)\s+(?:employés|clients|utilisateurs|patients)"
    r"|\b(?:employé|client|utilisateur|patient)\s+(?:authentifié|connecté)"
    r"|\baltri\s+(?:dipendenti|clienti|utenti|pazienti)|\boutros\s+(?:funcionários|clientes|usuários|pacientes)",
    re.IGNORECASE,
)

# A personal record or a figure about a person. Bare "leave", "file", "pay", "phone", "e-mail" or a
# birthday are left out: "can I take leave to care for my dad", "an e-mail from my boss", "a poem for my
# son's birthday" are the user's own affairs.
_RECORD = (
    r"salary|salaries|payslips?|pay\s?slips?|pay\s?checks?|earns?|earning|compensation|bonus(?:es)?"
    r"|wages?|income|(?:home\s+)?address(?:es)?|(?:phone|mobile|cell)\s+numbers?|e-?mail\s+address(?:es)?"
    r"|date\s+of\s+birth|ssn|social\s+security(?:\s+number)?|(?:medical|health)\s+(?:records?|history|files?|conditions?|notes|data|information|details|issues|status)"
    r"|diagnos[ie]s|(?:sick|medical|parental|maternity|paternity)\s+leave|performance\s+(?:reviews?|ratings?"
    r"|(?:improvement\s+)?plans?)|improvement\s+plan|disciplinary(?:\s+\w+)?|personnel\s+file|hr\s+file"
    r"|account(?:\s+details)?|profile|records?|bank\s+details|corporate\s+card|credit\s+card"
    # banks, clinics, hotels, shops, telephone companies, schools
    r"|balances?|transactions|(?:bank|account|card)\s+statements?|(?:account|card|room)\s+numbers?"
    r"|(?:test|lab|blood)\s+results?|prescriptions?|appointments?|bookings?|reservations?|order\s+history"
    r"|orders|call\s+(?:logs?|history)|grades|medications?|(?:which|what)\s+room"
    r"|(?:written|formal|final)\s+warnings?|names"
    # German, Spanish, Portuguese, French, Italian, Dutch, Polish, Turkish, Russian
    r"|gehalt|verdient|lohn|adresse|personalakte|krankmeldung|sueldo|salario|cobra|gana|direcci[oó]n"
    r"|sal[aá]rio|ganha|endere[cç]o|salaire|gagne|stipendio|guadagna|indirizzo|salaris|zarabia"
    r"|pensj\w*|wynagrodzeni\w*|adres|maa[sş]\w*|kazan[ıi]yor|зарплат\w*|зарабатыва\w*|адрес\w*"
)
_RECORD_ANY = (
    rf"\b(?:{_RECORD})\b"
    r"|연봉|월급|급여|주소|給料|年収|給与|住所|工资|薪水|薪资|工資|地址|راتب|عنوان|सैलरी|वेतन|तनख्वाह"
)
# Looked for in the lower-cased text, case-sensitively: several times faster than ignoring case.
_RECORD_LOWER = re.compile(_RECORD_ANY)
_RECORD_ANY_CASE = re.compile(_RECORD_ANY, re.IGNORECASE)  # for text whose length lower-casing changes

# Someone else, by their relation to the user or as a group (in lower case).
_RELATION_WORDS = (
    r"\b(?:my|our)\s+(?:ex\b|ex-\w+|former\s+\w+|colleague|co-?worker|teammate|manager|boss|supervisor"
    r"|friend|neighbou?r|wife|husband|partner|girlfriend|boyfriend|brother|sister|mother|father|mum|mom"
    r"|dad|son|daughter|roommate|landlord|tenant|employee)"
    r"|\b(?:everyone|everybody|all\s+(?:the\s+)?(?:employees|staff|customers|users|patients|members|colleagues"
    r"|guests|residents|tenants|students|clients|passengers|travell?ers))\b"
    r"|\b(?:another|other|different)\s+(?:customer|guest|patient|student|user|member|employee|client|account\s?holder"
    r"|tenant|resident|traveller|traveler)s?\b"
    r"|\b(?:guest|patient|customer|tenant|resident)\s+(?:in|at)\s+(?:room|bed|unit|apartment|flat|seat)\b"
    r"|\bwho\s+(?:else\s+)?(?:in|at|on)\s+(?:the|this|our|my)\s+(?:\w+\s+)?(?:company|office|team|department|floor"
    r"|building|ward|unit)"
    r"|\bwhich\s+(?:patients|employees|customers|guests|staff|members|users|students|tenants|residents|people)\b"
    r"|\bthe\s+(?:guests|patients|employees|customers|residents|tenants|staff)\s+(?:in|on|at|of)\b"
    r"|\b(?:mein(?:e|em|en)?\s+)?(?:kolleg(?:e|in|en)|chef(?:in)?|vorgesetzte[nr]?|nachbar(?:in)?)\b"
    r"|\b(?:mi|mis)\s+(?:colega|compañer[oa]|jef[ae]|ex|vecin[oa])\b"
    r"|\b(?:mon|ma|mes)\s+(?:coll[eè]gue|chef|patron(?:ne)?|voisin(?:e)?|ex)\b"
    r"|\b(?:il\s+mio|la\s+mia|mio|mia)\s+(?:collega|capo|vicin[oa])\b"
    r"|\b(?:meu|minha)\s+(?:colega|chefe|gerente|vizinh[oa])\b"
    r"|\bmijn\s+(?:collega|baas|leidinggevende|buurman|buurvrouw)\b"
    r"|\b(?:kolega|koleżank\w*|szef\w*)\b|\bz\s+mojego\s+(?:działu|zespołu)"
    r"|\biş\s+arkadaş\w*|\bmüdürüm\w*|\bpatronum\w*"
    r"|\b(?:мо[йяего]+\s+)?(?:коллег\w*|начальни\w*)"
    r"|동료|대리|과장|부장|팀장|同僚|上司|同事|领导|老板|زميل\w*|सहकर्मी|टीम\s+के"
)
_RELATION_LOWER = re.compile(_RELATION_WORDS)
_RELATION_ANY_CASE = re.compile(_RELATION_WORDS, re.IGNORECASE)
# What every alternative of the relation pattern starts with. The pattern is tried only where one of these
# stands (found in one Aho-Corasick pass): searched from every position, its alternation costs a quarter
# of a microsecond a character.
_RELATION_STARTS = """my our every all who which the another other different guest patient customer tenant
    resident mein kolleg chef vorgesetzt nachbar mi mis mon ma mes il la mio mia meu minha mijn
    kolega koleżank szef z iş müdürüm patronum мо коллег начальни
    동료 대리 과장 부장 팀장 同僚 上司 同事 领导 老板
    زميل सहकर्मी टीम"""


@functools.cache
def _relation_starts() -> ahocorasick_rs.AhoCorasick:
    return ahocorasick_rs.AhoCorasick(_RELATION_STARTS.split())


# Someone else in the third person ("her home address", "Anna Lindqvist's payslip"), or named after the
# record ("the disciplinary file on Kasia Nowak"). A name is two capitalised words: one alone is as often
# a company or a product ("Brightline's phone number"), and so is a pair whose second word says what kind
# of body it is ("Acme Bank's", "Fenwick Foods'").
_ORGANISATION = (
    "Airlines?|Bank|Broadband|Cent(?:er|re)|Clinic|College|Company|Corp|Council|Department|Energy|Foods?"
    "|Group|Health|Hospital|Hotels?|Inc|Insurance|Labs?|Ltd|Office|Services?|Shop|Store|Support|Team"
    "|Telecom|University|Resources|Manager|Director|Engineer|Analyst|Officer|Specialist|Consultant|Level"
    "|Grade|Band"
)
# Nor is a pair that starts with a day, a month or the first word of a place or a holiday ("the bookings on
# Friday Night", "the reservations about New Year").
_NOT_FIRST_NAME = (
    "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|January|February|March|April|May|June|July"
    "|August|September|October|November|December|New|San|Santa|Los|Las|St|Saint|North|South|East|West"
    "|Christmas|Easter|Black|Cyber|Dear|Hi|Hello|Hey|Please|Thanks|Thank"
    # clinicians, job titles and departments, not the people whose records are asked for
    "|Dr|Doctor|Prof|Professor|Nurse|Senior|Junior|Chief|Head|Lead|Principal|Associate|Assistant|Deputy|Vice"
    "|Human"
)
_NAME = rf"(?-i:(?!(?:{_NOT_FIRST_NAME})\b)[A-Z][\w-]+\s+(?!(?:{_ORGANISATION})\b)[A-Z][\w-]+)"
# Each is matched at a record: what stands just before it ("her home", "Anna Lindqvist's last"), or just
# after it.
_THIRD_PERSON = re.compile(rf"\b(?:(?i:his|her)|{_NAME}(?:'s|’s))\s+(?:[\w-]+\s+){{0,2}}$")
_NAMED_AFTER = re.compile(rf"(?:\s+[\w-]+){{0,2}}?\s+(?i:of|on|about)\s+{_NAME}")
# A name near a record, not after an article ("the salary band for a Senior Dispatcher" names a job).
# Where a name may start: a pattern that begins with a character class is searched for by skipping to it.
_CAPITALISED_PAIR = re.compile(r"[A-Z][\w-]*\s+[A-Z]")
_NAMED_NEAR = re.compile(rf"(?<!\ba )(?<!\ban )(?<!\bthe )(?<!\bour )(?<!\bmy ){_NAME}")
# A record that is the user's own ("my address", "meine Adresse", "mi sueldo", "the joint account", "can I
# take parental leave"), one that does not exist yet ("book an appointment for my son"), or a destination
# ("send money to my brother's account"): what stands just before it.
_OWN = re.compile(
    r"(?:\b(?:my|mine|our|mein\w*|mi|mis|mon|ma|mes|mio|mia|meu|minha|mijn|joint|shared|family)\s+"
    r"|\bI\s+(?:take|get|have|use|request|claim|go\s+on|apply\s+for)\s+"
    r"|\b(?:book|make|schedule|arrange|request|open|create)\s+(?:an?|the|another|new)\s+"
    r"|\b(?:send|transfer|pay|wire|move|deposit)\s+(?:[\w$€£.,'’-]+\s+){0,3}?(?:to|into)\s+(?:[\w'’-]+\s+){0,2})"
    r"(?:[\w-]+\s+)?$",
    re.IGNORECASE,
)
# A turn that opens by asking for writing (a note to a colleague, feedback for their review, a card for a
# coworker on leave): the records it names are the subject of a text, not what is asked for.
_WRITING = re.compile(
    r"^\W*(?:(?:hi|hey|hello)\b\W*)?(?:please\s+)?(?:(?:can|could|would|will)\s+you\s+(?:please\s+)?)?"
    r"(?:help\s+me\s+(?:to\s+)?)?(?:write(?!\s+(?:down|out)\b)|draft|compose|proofread|rephrase|reword|polish|edit|improve|shorten"
    r"|correct|translate|summari[sz]e\s+(?:this|the\s+following)|schreib\w*|verfass\w*|formulier\w*"
    r"|escrib\w*|redact\w*|écri[st]\w*|rédige\w*|scriv\w*|napisz|yaz)\b",
    re.IGNORECASE,
)
# The user's family or others as part of the user's own record: an emergency contact, a next of kin, a
# beneficiary or dependant to register ("update my husband's phone number, he's my emergency contact").
_REGISTERS = re.compile(
    r"\b(?:emergency\s+contacts?|next\s+of\s+kin|beneficiar(?:y|ies)|dependan?ts?)\b", re.IGNORECASE
)
# Someone by their number: "employee 55231", "patient no. 48812" (not "my employee number 55231").
_NUMBERED = re.compile(
    r"\b(?:employee|customer|patient|member|staff|personnel|account|client|guest)\s*(?:id|number|no\.?|#)?"
    r"\s*[:#]?\s*\d{4,}(?:-\d+)*\b",
    re.IGNORECASE,
)
# A person's identifier (an employee, customer or account number as applications print them).
_IDENTIFIER = re.compile(r"\b[A-Z]{1,3}-?\d{4,}\b")
NEAR = 60  # characters between the person and the record, at most
REACH = 40  # characters of the words that name a relation ("who in the company", "all the employees")
BEFORE = 80  # characters before a record where a person in the third person is looked for


def guards_others(operator: str) -> bool:
    """Whether the operator's instructions limit the assistant to the person signed in."""
    return _GUARDS.search(operator) is not None


def asks_about_others(text: str, operator: str = "") -> str | None:
    """How `text` asks for someone else's personal record ("third person", "named", "relation",
    "identifier"), or None. `operator` is the operator's instructions: an identifier they give (the
    signed-in employee's number) is the user's own. A turn that asks for a text to be written
    (`_WRITING`), or names others as part of the user's own record (`_REGISTERS`), asks for no one
    else's."""
    if _WRITING.match(text) or _REGISTERS.search(text):
        return None
    lowered = text.lower()
    if len(lowered) == len(text):  # the patterns in lower case are several times faster
        found, relation = _RECORD_LOWER.finditer(lowered), _RELATION_LOWER
    else:  # lower-casing moved the offsets ("İ" is two characters in lower case)
        found, relation = _RECORD_ANY_CASE.finditer(text), _RELATION_ANY_CASE
    records = [m.span() for m in found if not _OWN.search(text, max(0, m.start() - 48), m.start())]
    if not records:
        return None
    for start, end in records:
        if _THIRD_PERSON.search(text, max(0, start - BEFORE), start):
            return "third person"
        if _NAMED_AFTER.match(text, end):
            return "named"
    # The relation is looked for around the records only, where one of its first words stands.
    automaton = _relation_starts()
    for start, end in _windows(records, len(text)):
        for _, first, _ in automaton.find_matches_as_indexes(lowered[start:end], overlapping=True):
            match = relation.match(text if relation is _RELATION_ANY_CASE else lowered, start + first, end)
            if match is not None and _near(match.span(), records):
                return "relation"
        for pair in _CAPITALISED_PAIR.finditer(text, start, end):
            match = _NAMED_NEAR.match(text, pair.start(), end)
            if match is not None and _near(match.span(), records):
                return "named"
        for match in _NUMBERED.finditer(text, start, end):
            if _near(match.span(), records) and not _OWN.search(
                text, max(0, match.start() - 24), match.start()
            ):
                return "identifier"
    own = set(_IDENTIFIER.findall(operator))
    if own:
        for match in _IDENTIFIER.finditer(text):
            if match.group() not in own:
                return "identifier"
    return None


def _windows(records: list[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    """The stretches of text around `records` where a relation counts (`NEAR`), with room for its own
    words (`REACH`); overlapping stretches joined."""
    windows: list[tuple[int, int]] = []
    for start, end in records:
        start, end = max(0, start - NEAR - REACH), min(length, end + NEAR + REACH)
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], end)
        else:
            windows.append((start, end))
    return windows


def _near(span: tuple[int, int], records: list[tuple[int, int]]) -> bool:
    start, end = span
    return any(r_start - end <= NEAR and start - r_end <= NEAR for r_start, r_end in records)


# The operator allows reading only.
_READ_ONLY = re.compile(
    r"\bread[- ]only\b|\bSELECT\s+(?:statements?\s+|queries\s+)?only\b|\bonly\s+SELECT\b"
    r"|\b(?:never|do\s+not|don't|must\s+not)\s+(?:produce|write|run|execute|generate|issue)\s+(?:any\s+)?(?:DDL|DML)"
    r"|\bno\s+(?:DDL|DML)\b|\bsolo\s+SELECT\b|\bnur\s+SELECT\b|\bseulement\s+SELECT\b"
    r"|\bnur\s+lesend\b|\bsolo\s+lectura\b|\blecture\s+seule\b|\bsola\s+lettura\b|\bsomente\s+leitura\b",
    re.IGNORECASE,
)
# A statement that writes, as written in a query (an identifier after the keywords).
_WRITE = re.compile(
    r"\b(?:DROP\s+(?:TABLE|DATABASE|SCHEMA|VIEW|INDEX|USER|ROLE)|TRUNCATE(?:\s+TABLE)?|ALTER\s+(?:TABLE|USER|ROLE"
    r"|DATABASE|SCHEMA)|INSERT\s+INTO|DELETE\s+FROM|GRANT\s+(?:ALL|SELECT|INSERT|UPDATE|DELETE|USAGE)"
    r")\s+[\w.\"`\[]|\bUPDATE\s+[\w.\"`]+\s+SET\s+\w",
    re.IGNORECASE,
)
# A turn that opens by asking what a statement does or why.
_QUESTION = re.compile(
    r"^\W*(?:(?:can|could)\s+you\s+)?(?:explain|why|what\s+(?:does|would|will|happens)|how\s+(?:does|do|would|can)"
    r"|is\s+it\s+(?:safe|ok|okay)|what'?s\s+the\s+difference)\b",
    re.IGNORECASE,
)
# The tenant the operator names, and another one named or the filter dropped in a user turn.
_TENANT = re.compile(r"\btenant(?:_id|[ _]?name)?\s*(?:=|:|is)\s*['\"]?(?!tenant)([\w.-]+)", re.IGNORECASE)
_SET_TENANT = re.compile(r"\btenant(?:_id|[ _]?name)?['\"]?\s*(?:=|:|to|as)\s*['\"]?([\w.-]+)", re.IGNORECASE)
_DROP_FILTER = re.compile(
    r"\b(?:remove|drop|skip|ignore|without|disable|bypass|turn\s+off|quita\w*|sin|ohne|entfern\w*|sans|"
    r"supprim\w*|rimuovi|senza|zonder|bez)\b[^.?!\n]{0,40}\btenant(?:_id)?\b"
    r"|\btenant(?:_id)?\s+(?:filter|check|restriction|clause)\b[^.?!\n]{0,30}\b(?:off|removed|dropped)\b"
    r"|\b(?:all|every|each|other)\s+(?:the\s+)?tenants\b|\bacross\s+(?:all\s+)?tenants\b",
    re.IGNORECASE,
)


# The operator forbids secrets in the answers ("do not output secrets from .env files", "never reveal
# API keys or passwords").
_CONFIDENTIAL = (
    r"(?:secrets?|credentials?|passwords?|passphrases?|api[\s_-]?keys?|access\s+keys?|private\s+keys?"
    r"|(?:access|auth|api|bearer|refresh|session|github|gitlab|slack|jwt|npm|pypi)\s+tokens?"
    r"|connection\s+strings?)"
)
_KEEPS_SECRETS = re.compile(
    r"\b(?:never|do\s+not|don't|must\s+not|may\s+not|cannot|can't)\s+(?:\w+\s+){0,2}?"
    r"(?:output|reveal|share|disclose|print|display|expose|paste|return|echo|include|show)\s+"
    rf"(?:\w+\s+){{0,3}}?{_CONFIDENTIAL}\b",
    re.IGNORECASE,
)
# A user turn that asks for one: "paste the db passwords from it", "give me the API key", "print all the
# access tokens in .env" (a token by its kind: "show me the token count" is about a model's tokens). The
# secret must be what the verb asks for, a few words on ("show me how to rotate the API keys" asks for a
# way, not a key), and not the user's own ("what was my password again?": a user locked out, not an
# attack).
_ASKS_SECRET = re.compile(
    r"\b(?:paste|show|print|give|tell|send|reveal|display|dump|list|read\s+out|copy|output|share|post|echo"
    r"|cat|what(?:'s|\s+is|\s+are))\s+(?:me\s+|us\s+)?(?:the\s+|all\s+(?:the\s+)?|those\s+|these\s+"
    rf"|its\s+|their\s+|his\s+|her\s+)?(?!my\s)(?:(?!my\s)[\w./-]+\s+){{0,2}}?{_CONFIDENTIAL}\b"
    # the secret itself, not a word about secrets ("the password policy", "the API key rotation")
    r"(?!\s+(?:polic(?:y|ies)|requirements?|rules?|length|manager|reset|rotation|fields?|format|strength"
    r"|complexity|hash(?:ing|es)?|storage|expiry|expiration|prompts?|forms?|vault|scanner|scanning|naming))",
    re.IGNORECASE,
)


# ...or for the file or variable that holds one: "print the contents of .env", "what is STRIPE_SECRET_KEY set
# to?".
_ASKS_SECRET_FILE = re.compile(
    r"\b(?i:paste|show|print|give|send|reveal|display|dump|cat|copy|output|share|what)\b"
    r"(?:(?!\b(?i:where|how|why|which|whether)\b)[^.?!\n]){0,40}"
    r"(?:\.env\b|\b(?i:secrets?\.(?:ya?ml|json|toml)|credentials\.json|id_rsa|id_ed25519)\b"
    r"|\b[A-Z][A-Z0-9_]*_(?:SECRET|TOKEN|PASSWORD|PASSWD|API_KEY|ACCESS_KEY|PRIVATE_KEY)[A-Z0-9_]*\b)"
)


@dataclass(frozen=True)
class Rules:
    """The rules an operator's instructions state, as far as these checks read them."""

    guards_others: bool  # the assistant serves only the person signed in
    read_only: bool  # it may read data, not write it
    tenants: frozenset[str]  # the tenants it is bound to (lower case); empty when none is named
    keeps_secrets: bool  # it must not put secrets (passwords, keys, tokens) in its answers

    def __bool__(self) -> bool:
        return self.guards_others or self.read_only or bool(self.tenants) or self.keeps_secrets


@functools.lru_cache(maxsize=64)
def rules(operator: str) -> Rules:
    """The rules `operator` states. Cached: a chat request's messages are each read against the same
    instructions, and an application sends the same system prompt again and again. The cache keeps the
    texts: 64 of them at most, 2 MiB with the default `MAX_PROMPT_BYTES`, whatever callers send."""
    return Rules(
        guards_others=guards_others(operator),
        read_only=_READ_ONLY.search(operator) is not None,
        tenants=frozenset(m.group(1).lower() for m in _TENANT.finditer(operator)),
        keeps_secrets=_KEEPS_SECRETS.search(operator) is not None,
    )


def _writes(text: str) -> bool:
    """Whether `text` asks to run a statement that writes. A question about one ("why does this DELETE
    lock the table?") asks to run nothing."""
    return _WRITE.search(text) is not None and not _QUESTION.match(text)


def _other_tenant(text: str, tenants: frozenset[str]) -> bool:
    """Whether `text` asks an assistant bound to `tenants` for another tenant's data, or to drop the tenant
    filter."""
    if _DROP_FILTER.search(text):
        return True
    return any(m.group(1).lower() not in tenants for m in _SET_TENANT.finditer(text))


def against(text: str, operator: str) -> str | None:
    """The operator's rule that the user turn `text` asks to break, by the signal the verdict records
    ("others_records", "writes_read_only", "other_tenant", "secrets_asked"), or None."""
    if not operator:
        return None
    stated = rules(operator)
    if not stated:
        return None
    if stated.guards_others and asks_about_others(text, operator) is not None:
        return "others_records"
    if stated.read_only and _writes(text):
        return "writes_read_only"
    if stated.tenants and _other_tenant(text, stated.tenants):
        return "other_tenant"
    if stated.keeps_secrets and (_ASKS_SECRET.search(text) or _ASKS_SECRET_FILE.search(text)):
        return "secrets_asked"
    return None
