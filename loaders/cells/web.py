"""Web addresses and e-mail addresses."""

from __future__ import annotations

import ipaddress
import re
from typing import NoReturn
from urllib.parse import quote, urlsplit, urlunsplit

from email_validator import EmailNotValidError, validate_email

from loaders.cells.errors import (
    CellError,
    Raw,
    cell_error,
    is_control,
    strip_cell,
    text_of,
)

# ---------------------------------------------------------------------------------
# Web and email addresses


def _host_problem(host: str) -> tuple[str, str] | None:
    """Why a host name cannot be on the public internet (nb, en), or None if it can.

    Letters beyond ASCII are allowed (kommune-æøå.no is a valid IDN); each label must
    still be letters, digits and inner hyphens, and the whole must survive IDNA encoding.
    """
    labels = host.removesuffix(".").split(".")
    if len(labels) < 2:
        return (
            "adressen mangler et domene med punktum (som kommune.no)",
            "the address lacks a domain with a dot (such as kommune.no)",
        )
    for label in labels:
        if not label or len(label) > 63:
            return (
                "adressen har et tomt eller for langt ledd",
                "the address has an empty or too long part",
            )
        if label.startswith("-") or label.endswith("-"):
            return (
                f"leddet «{label}» begynner eller slutter med bindestrek",
                f'the part "{label}" starts or ends with a hyphen',
            )
        bad = sorted({ch for ch in label if not (ch.isalnum() or ch == "-")})
        if bad:
            return (
                f"adressen inneholder tegn som ikke er lov i et domenenavn: {' '.join(bad)}",
                f"the address contains characters not allowed in a domain name: {' '.join(bad)}",
            )
    if not re.fullmatch(r"[^\W\d_]{2,}|xn--[a-z0-9-]+", labels[-1], re.IGNORECASE):
        return (
            f"toppdomenet «{labels[-1]}» er ikke gyldig (som .no eller .com)",
            f'the top-level domain "{labels[-1]}" is not valid (such as .no or .com)',
        )
    try:
        host.encode("idna")
    except UnicodeError:
        return "domenenavnet er ikke gyldig", "the domain name is not valid"
    return None


_URL_FORBIDDEN = '<>"{}|\\^`'
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_SCHEME_TYPO = re.compile(r"(?i)(https?)(?::/?|//?|:\\\\)(?=[^/\\])")


def parse_url(raw: Raw) -> str | None:
    """A web address (http or https) that can be published in a public catalogue.

    Other schemes are refused because the address is shown as a link: javascript: and
    data: would run in a reader's browser, file: points at someone's disk. A user name
    and password in the address are refused so that they are never published. A bare
    host name ("www.kommune.no") is an error with the https:// address as suggestion,
    not silently completed: http and https are different addresses.

    >>> parse_url("https://www.kongsberg.kommune.no/tjenester"), parse_url("HTTPS://Bø.no")
    ('https://www.kongsberg.kommune.no/tjenester', 'https://bø.no')
    >>> parse_url("www.example.no")
    Traceback (most recent call last):
    ...
    loaders.cells.CellError: «www.example.no» mangler https://...
    """
    what_nb, what_en = "en nettadresse", "a web address"
    text = text_of(raw, what_nb, what_en)
    if text is None:
        return None
    if any(is_control(ch) for ch in text):
        raise cell_error(
            raw,
            "Nettadressen {v} inneholder usynlige kontrolltegn. Skriv den inn på nytt.",
            "The web address {v} contains invisible control characters. Type it again.",
        )
    if any(ch.isspace() for ch in text):
        candidate = re.sub(r"\s", "%20", text)
        raise cell_error(
            raw,
            "Nettadressen {v} inneholder mellomrom, som ikke er lov i en adresse. Kopier "
            "adressen fra nettleserens adressefelt, eller skriv %20 for hvert mellomrom.",
            "The web address {v} contains spaces, which an address may not. Copy the "
            "address from the browser's address bar, or write %20 for each space.",
            candidate if _valid_url(candidate) else None,
        )
    if not re.match(r"(?i)https?://", text):
        _raise_for_url_start(raw, text)
    forbidden = sorted({ch for ch in text if ch in _URL_FORBIDDEN})
    if forbidden:
        encoded = ", ".join(f"{ch} som %{ord(ch):02X}" for ch in forbidden)
        encoded_en = ", ".join(f"{ch} as %{ord(ch):02X}" for ch in forbidden)
        candidate = "".join(f"%{ord(ch):02X}" if ch in _URL_FORBIDDEN else ch for ch in text)
        raise cell_error(
            raw,
            f"Nettadressen {{v}} inneholder tegn som må kodes: skriv {encoded}. "
            "Kopier adressen fra nettleserens adressefelt.",
            f"The web address {{v}} contains characters that must be encoded: write "
            f"{encoded_en}. Copy the address from the browser's address bar.",
            candidate if _valid_url(candidate) else None,
        )
    if re.search(r"%(?![0-9A-Fa-f]{2})", text):
        raise cell_error(
            raw,
            "Nettadressen {v} har et %-tegn som ikke følges av to heksadesimale sifre. "
            "Skriv %25 for et prosenttegn.",
            "The web address {v} has a % sign not followed by two hexadecimal digits. "
            "Write %25 for a percent sign.",
        )
    try:
        parts = urlsplit(text)
    except ValueError:  # "http://[::1": an unclosed IPv6 bracket
        raise cell_error(
            raw,
            "Nettadressen {v} har en ugyldig IPv6-adresse eller hakeparentes [ ] i domenet.",
            "The web address {v} has an invalid IPv6 address or bracket [ ] in its domain.",
        ) from None
    netloc = parts.netloc
    if "@" in netloc:
        raise cell_error(
            raw,
            "Nettadressen {v} inneholder brukernavn eller passord (før @), som ikke skal "
            "publiseres. Fjern dem fra adressen.",
            "The web address {v} contains a user name or password (before @), which must "
            "not be published. Remove them from the address.",
            urlunsplit((parts.scheme, netloc.rsplit("@", 1)[1], *parts[2:])),
        )
    try:
        port = parts.port
    except ValueError:
        raise cell_error(
            raw,
            "Nettadressen {v} har et ugyldig portnummer (etter kolon).",
            "The web address {v} has an invalid port number (after the colon).",
        ) from None
    host = parts.hostname or ""
    if netloc.startswith("["):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise cell_error(
                raw,
                "Nettadressen {v} har en ugyldig IPv6-adresse.",
                "The web address {v} has an invalid IPv6 address.",
            ) from None
        shown_host = f"[{host}]"
    elif re.fullmatch(r"[0-9.]+", host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise cell_error(
                raw,
                "Nettadressen {v} har en ugyldig IP-adresse.",
                "The web address {v} has an invalid IP address.",
            ) from None
        shown_host = host
    else:
        problem = _host_problem(host)
        if problem is not None:
            raise cell_error(
                raw,
                f"{{v}} er ikke en gyldig nettadresse: {problem[0]}.",
                f"{{v}} is not a valid web address: {problem[1]}.",
            )
        shown_host = host
    netloc = shown_host if port is None else f"{shown_host}:{port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, parts.fragment))


def _valid_url(text: str) -> bool:
    try:
        parse_url(text)
    except CellError:
        return False
    return True


def _raise_for_url_start(raw: Raw, text: str) -> NoReturn:
    """Explain an address that does not start with http:// or https://."""
    typo = _SCHEME_TYPO.match(text)
    if typo:
        fixed = f"{typo[1].lower()}://{text[typo.end() :]}"
        raise cell_error(
            raw,
            f"Nettadressen {{v}} har feil etter {typo[1]}: det skal stå {typo[1].lower()}://.",
            f"The web address {{v}} is malformed after {typo[1]}: it should read "
            f"{typo[1].lower()}://.",
            fixed if _valid_url(fixed) else None,
        )
    scheme = _SCHEME.match(text)
    if scheme and scheme[1].lower() in {"http", "https"}:
        raise cell_error(
            raw,
            f"Nettadressen {{v}} er feil skrevet: den skal begynne med {scheme[1].lower()}:// "
            "og så domenet, som https://www.kommune.no.",
            f"The web address {{v}} is malformed: it should start with {scheme[1].lower()}:// "
            "and then the domain, such as https://www.kommune.no.",
        )
    if scheme and "." not in scheme[1]:
        email = (
            " Bruk kolonnen for e-post til e-postadresser." if scheme[1].lower() == "mailto" else ""
        )
        email_en = " Use the email column for email addresses." if email else ""
        raise cell_error(
            raw,
            f"{{v}} er ikke en nettadresse: bare adresser som begynner med http:// eller "
            f"https:// er tillatt, ikke {scheme[1]}:.{email}",
            f"{{v}} is not a web address: only addresses starting with http:// or https:// "
            f"are allowed, not {scheme[1]}:.{email_en}",
        )
    fixed = f"https://{text}"
    if _valid_url(fixed):
        raise cell_error(
            raw,
            "{v} mangler https:// foran. Skriv hele adressen slik nettleseren viser den.",
            "{v} lacks https:// in front. Write the whole address as the browser shows it.",
            fixed,
        )
    raise cell_error(
        raw,
        "{v} er ikke en nettadresse. Skriv hele adressen, for eksempel https://www.kommune.no.",
        "{v} is not a web address. Write the whole address, for example https://www.kommune.no.",
    )


_MAILTO_LITERAL = "!$'*+-_.~"
"""Characters of a local part that a mailto IRI may hold as they are; others are %-encoded."""


def parse_email(raw: Raw) -> str | None:
    """An email address as a mailto: IRI, the form DCAT-AP-NO wants for a contact point.

    Addresses pasted from Outlook ("Ola Nordmann <ola@kommune.no>") keep only the
    address; a list of addresses is refused, because the column holds one. The check is
    of the syntax people get wrong (no @, spaces, two addresses, a missing domain), not
    of everything RFC 5322 allows: quoted local parts and IP-address domains are
    refused because a municipal contact address never needs them.

    >>> parse_email("postmottak@kongsberg.kommune.no")
    'mailto:postmottak@kongsberg.kommune.no'
    >>> parse_email("Ola Nordmann <Ola.Nordmann@Kommune.NO>"), parse_email("mailto:a@b.no")
    ('mailto:Ola.Nordmann@kommune.no', 'mailto:a@b.no')
    >>> parse_email("ola.kommune.no")
    Traceback (most recent call last):
    ...
    loaders.cells.CellError: «ola.kommune.no» er ikke en e-postadresse: den mangler @...
    """
    what_nb, what_en = "en e-postadresse", "an email address"
    text = text_of(raw, what_nb, what_en)
    if text is None:
        return None
    named = re.fullmatch(r"[^<>]*<([^<>]*)>", text)
    if named:
        text = strip_cell(named[1])
    if text[:7].casefold() == "mailto:":
        text = text[7:]
    if not text:
        raise cell_error(raw, "{v} mangler adressen.", "{v} lacks the address.")
    if text.count("@") > 1 or re.search(r"[,;]", text):
        raise cell_error(
            raw,
            "{v} ser ut som flere e-postadresser. Skriv bare én adresse i cellen.",
            "{v} looks like several email addresses. Write only one address in the cell.",
        )
    if any(ch.isspace() or is_control(ch) for ch in text):
        raise cell_error(
            raw,
            "E-postadressen {v} inneholder mellomrom. Fjern dem.",
            "The email address {v} contains spaces. Remove them.",
            "".join(ch for ch in text if not (ch.isspace() or is_control(ch))) or None,
        )
    if "@" not in text:
        raise cell_error(
            raw,
            "{v} er ikke en e-postadresse: den mangler @ (som i postmottak@kommune.no).",
            "{v} is not an email address: it lacks an @ (as in postmottak@kommune.no).",
        )
    local, domain = text.split("@")
    problem = _host_problem(domain) if local else None
    if problem is not None:
        raise cell_error(
            raw,
            f"E-postadressen {{v}} har et ugyldig domene etter @: {problem[0]}.",
            f"The email address {{v}} has an invalid domain after the @: {problem[1]}.",
        )
    try:
        # The syntax of RFC 5321/5322 and its Unicode extension, by a maintained library;
        # the checks above only give the common mistakes their own, plainer messages.
        address = validate_email(
            text,
            check_deliverability=False,  # never the network: no DNS look-ups
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_smtputf8=True,
            globally_deliverable=False,
        )
    except EmailNotValidError as error:  # the domain passed above: the local part it is
        raise cell_error(
            raw,
            "E-postadressen {v} har en ugyldig del foran @. Den kan ha bokstaver, sifre og "
            "tegn som . _ - +, men ikke to punktum etter hverandre eller punktum først/sist.",
            "The email address {v} has an invalid part before the @. It may have letters, "
            "digits and characters such as . _ - +, but not two dots in a row or a dot first "
            "or last.",
        ) from error
    local, domain = address.local_part, domain.lower()
    encoded = "".join(
        ch if ch.isalnum() or ch in _MAILTO_LITERAL else quote(ch, safe="") for ch in local
    )
    return f"mailto:{encoded}@{domain.lower()}"
