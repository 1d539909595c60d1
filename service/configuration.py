"""Where each setting's value comes from: defaults, the TOML file, the environment, flags.

``service.settings`` declares the settings and how one value is parsed; this module
combines the sources (strongest last), says where each value came from
(``kommunegraf config``) and writes the flags' help.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.settings import (
    CONFIG_ENV,
    ENV_PREFIX,
    MEMORY,
    SPECS,
    Settings,
    SettingsError,
    Spec,
    parsed_flags,
)


@dataclass(frozen=True)
class Configuration:
    """The effective settings and, for each field, where its value came from."""

    settings: Settings
    sources: dict[str, str]
    """Field name → "default", "file PATH", "env NAME" or "flag --name"."""
    config_file: Path | None = None

    def describe(self) -> str:
        """The effective configuration as a TOML file, secrets masked, sources as comments.

        >>> print(resolve(environ={"KOMMUNEGRAF_TOKEN": "s3cret" * 6}).describe())
        ... # doctest: +ELLIPSIS
        # kommunegraf: gjeldende innstillinger / effective settings
        ...
        token = "********"  # env KOMMUNEGRAF_TOKEN
        ...
        """
        lines = [
            "# kommunegraf: gjeldende innstillinger / effective settings",
            "# kilde / source: flag > env > file > default",
        ]
        if self.config_file is not None:
            lines.append(f"# fil / file: {self.config_file}")
        for name, spec in SPECS.items():
            value = getattr(self.settings, name)
            if name == "store" and value is None:
                value = MEMORY
            shown = spec.shown(value)
            source = self.sources.get(name, "default")
            if shown.startswith("#"):
                lines.append(f"# {name} = {shown[2:]}  # {source}")
            else:
                lines.append(f"{name} = {shown}  # {source}")
        return "\n".join(lines)


def read_config_file(path: Path) -> dict[str, Any]:
    """The TOML file's table; an unreadable or malformed file is a SettingsError."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise SettingsError(
            f"{path}: kan ikke lese konfigurasjonsfilen (cannot read the configuration file): "
            f"{error.strerror or error}"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path}: ugyldig TOML (invalid TOML): {error}") from None


def _did_you_mean(word: str, known: list[str]) -> str:
    close = difflib.get_close_matches(word, known, n=1)
    return f"; mente du / did you mean {close[0]}?" if close else ""


def resolve(
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> Configuration:
    """Combine defaults, the TOML file, the environment and flags (strongest last).

    ``environ`` defaults to ``os.environ``; ``config_file`` to ``KOMMUNEGRAF_CONFIG``.
    Flags that are None were not given. Raises ``SettingsError`` naming the key.

    >>> c = resolve({"port": "9000"}, {"KOMMUNEGRAF_PORT": "8080", "KOMMUNEGRAF_HOST": "::"})
    >>> c.settings.port, c.sources["port"], c.settings.host, c.sources["host"]
    (9000, 'flag --port', '::', 'env KOMMUNEGRAF_HOST')
    >>> resolve(environ={"KOMMUNEGRAF_PROT": "1"})
    Traceback (most recent call last):
    ...
    service.settings.SettingsError: KOMMUNEGRAF_PROT: ukjent innstilling (unknown setting); ...
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}

    if config_file is None and env.get(CONFIG_ENV):
        config_file = Path(env[CONFIG_ENV])
    if config_file is not None:
        table = read_config_file(config_file)
        for key, value in table.items():
            spec = SPECS.get(key)
            if spec is None:
                raise SettingsError(
                    f"{config_file}: {key}: ukjent innstilling (unknown setting)"
                    + _did_you_mean(key, list(SPECS)),
                    key,
                )
            values[key] = spec.parse_toml(value, f"{config_file}: {key}")
            sources[key] = f"file {config_file}"

    known_env = {spec.env: spec for spec in SPECS.values()}
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        spec = known_env.get(name)
        if spec is None:
            raise SettingsError(
                f"{name}: ukjent innstilling (unknown setting)"
                + _did_you_mean(name, [*known_env, CONFIG_ENV]),
                name,
            )
        values[spec.name] = spec.parse_text(env[name], name)
        sources[spec.name] = f"env {name}"

    for key, value in parsed_flags(flags or {}).items():
        values[key] = value
        sources[key] = f"flag {SPECS[key].flag}"

    try:
        settings = Settings(**values)
    except SettingsError as error:
        source = sources.get(error.key or "", "default")
        raise SettingsError(f"{error} [{source}]", error.key) from None
    return Configuration(settings, sources, config_file)


def flag_specs() -> list[Spec]:
    """The settings that may be given as flags: all but the secrets."""
    return [spec for spec in SPECS.values() if not spec.secret]


def help_text(spec: Spec) -> str:
    """A flag's help: bokmål, English, the variable and the default."""
    default = spec.default
    if spec.name == "store" and default is None:
        default = MEMORY
    shown = "" if default is None else f", default {spec.shown(default)}"
    text = f"{spec.nb} / {spec.en}" if spec.nb else spec.en
    return f"{text} [env {spec.env}{shown}]"
