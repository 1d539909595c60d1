"""Security headers on every response: a Content-Security-Policy and the usual others.

Why: the pages show what municipalities typed in, and IRIs that can be anything.
Escaping (Jinja autoescape) and link checking (``service.pages.render``) keep that
data from becoming markup or a ``javascript:`` link; the policy is the second line,
so that a mistake in either still cannot run a script or load from elsewhere:

- scripts only from this origin (``/static``, YASGUI vendored from npm), and no
  inline script at all (the pages have none; one that is needed later must be
  added by its hash);
- nothing from any other origin: styles, images, fonts, connections (the SPARQL
  editor talks to ``/sparql`` only) are ``'self'``; images and fonts may also be
  ``data:`` URLs (YASGUI's icons, the empty favicon);
- styles may be inline (``style=`` on the heat map's cells, and the ones YASGUI's
  editor sets), which cannot run code;
- forms post to this origin only, no page may frame ours (clickjacking), and
  ``<base>`` cannot move relative links elsewhere.

The others: ``X-Content-Type-Options: nosniff`` (error texts echo input; a browser
must not read them as HTML), ``Referrer-Policy: same-origin`` (following a link out
does not tell the other site which page it came from), ``X-Frame-Options: DENY``
for browsers older than ``frame-ancestors``, and ``Cross-Origin-Opener-Policy``.

They are added by the outermost middleware (``service.logs.RequestLog``, which
stamps every response with its request id too); a route that sets one of these
headers itself keeps its own.
"""

from __future__ import annotations

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    )
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = tuple(
    (name.lower().encode("latin-1"), value.encode("latin-1"))
    for name, value in (
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "same-origin"),
        ("X-Frame-Options", "DENY"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    )
)
