"""The token file: who may write what, stored as SHA-256 hashes only.

A national deployment hands each municipality (or regional cooperation) its own
write token. The file at ``KOMMUNEGRAF_TOKENS`` (TOML, because ``tomllib`` reads
it without a dependency) maps the hex SHA-256 of every token to its holder's name,
role and scope; the token itself is shown once, when it is made, and is never
written anywhere, so a copy of the file (a backup, a leaked config repository)
does not let anyone write.

The service rereads the file when it changes on disk, so ``kommunegraf token
revoke`` takes effect on the next request without a restart. A revoked token
stays in the file, marked, so ``token list`` and the audit trail can still name it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import tempfile
import threading
import tomllib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

ROLES = ("admin", "municipality", "region")
_NUMBER = re.compile(r"\d{4}")
_HEX = re.compile(r"[0-9a-f]{64}")


class TokenFileError(ValueError):
    """The token file cannot be read or holds an invalid entry; the message says where."""


@dataclass(frozen=True)
class TokenEntry:
    digest: str
    """Hex SHA-256 of the token."""
    name: str
    role: str
    municipalities: tuple[str, ...] = ()
    """Kommunenummer the token may write for (a region's members); empty for admin."""
    region: str | None = None
    created: datetime | None = None
    expires: datetime | None = None
    revoked: datetime | None = None

    def state(self, now: datetime | None = None) -> str:
        """ "active", "expired" or "revoked"."""
        now = now or datetime.now(UTC)
        if self.revoked is not None:
            return "revoked"
        if self.expires is not None and self.expires <= now:
            return "expired"
        return "active"


def hash_token(token: str) -> str:
    """The hex SHA-256 the file keeps instead of the token.

    >>> hash_token("abc")[:16]
    'ba7816bf8f01cfea'
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh token: 256 random bits, URL-safe, recognisable by its prefix."""
    return "kg_" + secrets.token_urlsafe(32)


def _time(value: object, where: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    raise TokenFileError(f"{where}: ikke et tidspunkt (not a date-time): {value!r}")


def _entry(digest: str, table: object) -> TokenEntry:
    where = f"tokens.{digest[:12]}…"
    if not _HEX.fullmatch(digest):
        raise TokenFileError(f"{where}: nøkkelen er ikke en SHA-256-hash (key is not a SHA-256)")
    if not isinstance(table, dict):
        raise TokenFileError(f"{where}: må være en tabell (must be a table)")
    name, role = table.get("name"), table.get("role")
    if not isinstance(name, str) or not name.strip():
        raise TokenFileError(f"{where}: name mangler (name is missing)")
    if role not in ROLES:
        raise TokenFileError(f"{where}: role må være en av (must be one of) {', '.join(ROLES)}")
    numbers = table.get("kommuner", [])
    if not isinstance(numbers, list) or not all(
        isinstance(n, str) and _NUMBER.fullmatch(n) for n in numbers
    ):
        raise TokenFileError(f"{where}: kommuner må være firesifrede numre (four-digit numbers)")
    if role != "admin" and not numbers:
        raise TokenFileError(f"{where}: {role} trenger kommuner (needs kommuner)")
    region = table.get("region")
    return TokenEntry(
        digest,
        name.strip(),
        role,
        tuple(numbers),
        region if isinstance(region, str) else None,
        _time(table.get("created"), where),
        _time(table.get("expires"), where),
        _time(table.get("revoked"), where),
    )


def parse_tokens(text: str) -> dict[str, TokenEntry]:
    """Read the file's text.

    >>> entries = parse_tokens('[tokens.' + "a" * 64 + ']\\nname = "X"\\nrole = "admin"\\n')
    >>> entries["a" * 64].role
    'admin'
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise TokenFileError(f"ugyldig TOML (invalid TOML): {error}") from None
    tables = document.get("tokens", {})
    if not isinstance(tables, dict):
        raise TokenFileError("[tokens] må være en tabell (must be a table)")
    return {digest: _entry(digest, table) for digest, table in tables.items()}


def _toml_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\u{ord(m.group()):04x}", escaped) + '"'


def _toml_time(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def format_tokens(entries: dict[str, TokenEntry]) -> str:
    """The file's text; only what ``parse_tokens`` reads back, hashes not tokens.

    >>> e = TokenEntry("b" * 64, 'Hasvik "IT"', "municipality", ("5616",))
    >>> parse_tokens(format_tokens({e.digest: e}))[e.digest] == e
    True
    """
    lines = [
        "# kommunegraf: skrivenøkler, bare SHA-256-hasher / write tokens, SHA-256 hashes only.",
        "# Endres med / edit with: kommunegraf token create | list | revoke",
        "",
    ]
    for digest, entry in sorted(entries.items(), key=lambda item: item[1].name):
        lines.append(f"[tokens.{digest}]")
        lines.append(f"name = {_toml_string(entry.name)}")
        lines.append(f"role = {_toml_string(entry.role)}")
        if entry.municipalities:
            numbers = ", ".join(_toml_string(n) for n in entry.municipalities)
            lines.append(f"kommuner = [{numbers}]")
        if entry.region is not None:
            lines.append(f"region = {_toml_string(entry.region)}")
        for key in ("created", "expires", "revoked"):
            moment: datetime | None = getattr(entry, key)
            if moment is not None:
                lines.append(f"{key} = {_toml_time(moment)}")
        lines.append("")
    return "\n".join(lines)


@dataclass
class TokenFile:
    """One token file on disk, reread when it changes."""

    path: Path
    _cache: tuple[tuple[int, int], dict[str, TokenEntry]] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def entries(self) -> dict[str, TokenEntry]:
        """Every entry; an absent file has none."""
        try:
            status = self.path.stat()
        except FileNotFoundError:
            return {}
        stamp = (status.st_mtime_ns, status.st_size)
        with self._lock:
            if self._cache is not None and self._cache[0] == stamp:
                return self._cache[1]
            try:
                entries = parse_tokens(self.path.read_text(encoding="utf-8"))
            except TokenFileError as error:
                raise TokenFileError(f"{self.path}: {error}") from None
            self._cache = (stamp, entries)
            return entries

    def find(self, token: str) -> TokenEntry | None:
        """The entry of ``token``, compared in constant time against every hash."""
        offered = hash_token(token).encode("ascii")
        found = None
        for digest, entry in self.entries().items():
            if hmac.compare_digest(offered, digest.encode("ascii")):
                found = entry
        return found

    def _save(self, entries: dict[str, TokenEntry]) -> None:
        """Write atomically, readable by the owner only (the names are not public)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".tokens-")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(format_tokens(entries))
            os.chmod(temporary, 0o600)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def create(
        self,
        name: str,
        role: str,
        municipalities: tuple[str, ...] = (),
        region: str | None = None,
        expires: datetime | None = None,
    ) -> tuple[str, TokenEntry]:
        """Make a token, store its hash, and return the token (the only time it exists)."""
        token = new_token()
        entry = TokenEntry(
            hash_token(token),
            name,
            role,
            municipalities,
            region,
            datetime.now(UTC).replace(microsecond=0),
            expires,
        )
        _entry(entry.digest, {"name": name, "role": role, "kommuner": list(municipalities)})
        entries = dict(self.entries())
        entries[entry.digest] = entry
        self._save(entries)
        return token, entry

    def revoke(self, which: str) -> list[TokenEntry]:
        """Revoke the active entries whose name is ``which`` or whose hash starts with it."""
        now = datetime.now(UTC).replace(microsecond=0)
        entries = dict(self.entries())
        chosen = [
            entry
            for digest, entry in entries.items()
            if entry.revoked is None
            and (entry.name == which or (len(which) >= 8 and digest.startswith(which.lower())))
        ]
        for entry in chosen:
            entries[entry.digest] = replace(entry, revoked=now)
        if chosen:
            self._save(entries)
        return [entries[entry.digest] for entry in chosen]
