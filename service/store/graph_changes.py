"""What a write of a graph changes: the SPARQL that turns a stored graph into new content.

Apart from ``service.store.embedded`` (the store, its snapshots and writes) because this
is one piece of its own: comparing the N-Triples a graph has with those it is given,
and writing the difference as SPARQL (``changes_sparql``: deleted lines, blank nodes by
pattern, inserted lines), or a new graph as N-Quads for the bulk loader (``nquads``,
with the audit marker's quads: ``preamble_quads``). ``KnowledgeStore`` runs what
these return under its write lock.
"""

from __future__ import annotations

import re

import pyoxigraph as ox


def insert_data(name: ox.NamedNode, data: bytes) -> str:
    """INSERT DATA of pyoxigraph's N-Triples ``data`` into graph ``name``."""
    return f"INSERT DATA {{ GRAPH {name} {{\n{data.decode()}\n}} }}"


def _split_blank(ntriples: bytes) -> tuple[set[bytes], list[bytes]]:
    """The lines of pyoxigraph's N-Triples without a blank node (a set), and those with
    one: a subject that is one, or an object (the last term before " .", which for a
    literal holds its closing quote).

    >>> _split_blank(b'<a> <p> _:x .\\n_:x <p> "_:y" .\\n<a> <p> "b _:c" .\\n')
    ({b'<a> <p> "b _:c" .'}, [b'<a> <p> _:x .', b'_:x <p> "_:y" .'])
    """
    lines = ntriples.split(b"\n")
    plain = {line for line in lines if b"_:" not in line}  # nearly all: no closer look
    blank: list[bytes] = []
    for line in lines:
        if b"_:" not in line:
            continue
        last = line[: line.rfind(b" ")]
        last = last[last.rfind(b" ") + 1 :]
        if line.startswith(b"_:") or (last.startswith(b"_:") and b'"' not in last):
            blank.append(line)
        else:
            plain.add(line)
    plain.discard(b"")
    return plain, blank


BLANK_GROUPS = 32
"""Up to this many groups of stored blank-node triples are deleted by their own patterns
(``_blank_deletions``); more, by one pattern over the whole graph."""


def _blank_deletions(name: ox.NamedNode, lines: list[bytes]) -> list[str]:
    """DELETE operations that remove the stored triples ``lines`` of graph ``name``, which
    each have a blank node (a DELETE DATA cannot name one): each group of lines linked
    by their blank nodes becomes a pattern, its blank nodes variables that must bind
    blank nodes. Found through the indexes from the group's IRIs and literals (Oslo's
    provenance: under a millisecond), not by reading the whole graph (20 ms). A
    pattern can match other blank-node triples of the graph, shaped alike: those are
    among ``lines`` too, and go as well. Many groups: one pattern over every triple.

    >>> print(_blank_deletions(ox.NamedNode("urn:g"), [b"<urn:g> <urn:p> _:x .",
    ...     b'_:x <urn:q> "1" .', b"_:y <urn:q> <urn:o> ."])[0])
    DELETE { GRAPH <urn:g> { <urn:g> <urn:p> ?b0 .
    ?b0 <urn:q> "1" . } } WHERE { GRAPH <urn:g> { <urn:g> <urn:p> ?b0 .
    ?b0 <urn:q> "1" . } FILTER(isBlank(?b0)) }
    """
    variables: dict[bytes, str] = {}
    group: dict[str, str] = {}  # variable -> a variable of its group (union-find)

    def root(variable: str) -> str:
        while group[variable] != variable:
            variable = group[variable]
        return variable

    def variable(label: bytes) -> str:
        if label not in variables:
            variables[label] = group.setdefault(f"?b{len(variables)}", f"?b{len(variables)}")
        return variables[label]

    patterns: list[tuple[list[str], str]] = []  # (the line's variables, the line as pattern)
    for line in lines:
        subject, rest = line.split(b" ", 1)
        head, _, last = rest.removesuffix(b" .").rpartition(b" ")
        found = []
        if subject.startswith(b"_:"):
            found.append(variable(subject))
            subject = found[-1].encode()
        if last.startswith(b"_:") and b'"' not in last:
            found.append(variable(last))
            last = found[-1].encode()
        if len(found) == 2:
            group[root(found[1])] = root(found[0])
        patterns.append((found, b" ".join([subject, head, last, b"."]).decode()))
    groups: dict[str, tuple[set[str], list[str]]] = {}
    for found, pattern in patterns:
        names, members = groups.setdefault(root(found[0]), (set(), []))
        names.update(found)
        members.append(pattern)
    if len(groups) > BLANK_GROUPS:
        return [
            f"DELETE {{ GRAPH {name} {{ ?s ?p ?o }} }} WHERE {{ GRAPH {name} "
            "{ ?s ?p ?o FILTER(isBlank(?s) || isBlank(?o)) } }"
        ]
    operations = []
    for names, members in groups.values():
        body = "\n".join(members)
        blank = " && ".join(f"isBlank({v})" for v in sorted(names))
        operations.append(
            f"DELETE {{ GRAPH {name} {{ {body} }} }} WHERE {{ GRAPH {name} {{ {body} }} "
            f"FILTER({blank}) }}"
        )
    return operations


_INSERT_DATA = re.compile(r"\s*INSERT DATA \{ GRAPH <([^<>\s]*)> \{([^{}]*)\} \}\s*;\s*")


def preamble_quads(preamble: str) -> list[ox.Quad] | None:
    """The quads of a preamble made only of ``INSERT DATA { GRAPH <g> { triples } } ;``
    operations (the audit trail's marker, ``service.access.audit.marker_sparql``), so
    they can go in a new graph's own bulk write; None for anything else (a DROP of a
    graph an upload takes over), which then runs as SPARQL. The triples are parsed
    by pyoxigraph as N-Triples: what does not parse as that is None too.

    >>> preamble_quads("INSERT DATA { GRAPH <urn:a> { <urn:s> <urn:p> 1 } } ; ")
    >>> preamble_quads("INSERT DATA { GRAPH <urn:a> { <urn:s> <urn:p> <urn:o> } } ; ")
    [<Quad subject=<NamedNode value=urn:s> ... graph_name=<NamedNode value=urn:a>>]
    >>> preamble_quads("INSERT DATA { GRAPH <urn:a> { <urn:s> <urn:p> <urn:o> } } ; "
    ...                 "DROP SILENT GRAPH <urn:b> ; ")
    """
    quads: list[ox.Quad] = []
    position = 0
    while position < len(preamble):
        operation = _INSERT_DATA.match(preamble, position)
        if operation is None:
            return None
        triples = operation[2].strip()
        try:
            graph = ox.NamedNode(operation[1])
            parsed = ox.parse((triples.removesuffix(".") + " .").encode(), ox.RdfFormat.N_TRIPLES)
            quads += [ox.Quad(q.subject, q.predicate, q.object, graph) for q in parsed]
        except (SyntaxError, ValueError):
            return None
        position = operation.end()
    return quads


_DROP = re.compile(r"\s*DROP SILENT GRAPH <([^<>\s]*)>\s*;\s*")


def preamble_graphs(preamble: str) -> set[str] | None:
    """The named graphs a write's preamble writes: the audit marker's (``preamble_quads``)
    and those an upload's DROP takes over; None for any other operation.

    >>> sorted(preamble_graphs("INSERT DATA { GRAPH <urn:a> { <urn:s> <urn:p> <urn:o> } } ; "
    ...                        "DROP SILENT GRAPH <urn:b> ;\\n"))
    ['urn:a', 'urn:b']
    >>> preamble_graphs(""), preamble_graphs("DROP ALL ; ")
    (set(), None)
    """
    graphs: set[str] = set()
    position = 0
    while position < len(preamble):
        operation = _INSERT_DATA.match(preamble, position) or _DROP.match(preamble, position)
        if operation is None:
            return None
        graphs.add(operation[1])
        position = operation.end()
    return graphs


def nquads(name: ox.NamedNode, ntriples: bytes) -> bytes:
    """pyoxigraph's N-Triples as N-Quads in graph ``name``: every line ends in " .", and a
    line break inside a literal is escaped, so each line gets the name before that end.
    A line that did not would be a triple of the default graph in N-Quads, so every
    line is checked to have the name: a mistake refuses the write, never makes another.

    >>> nquads(ox.NamedNode("urn:g"), b'<urn:s> <urn:p> "a . b" .\\n\\n').decode()
    '<urn:s> <urn:p> "a . b" <urn:g> .\\n'
    >>> nquads(ox.NamedNode("urn:g"), b'<urn:s> <urn:p> "a" .\\r\\n')
    Traceback (most recent call last):
    ...
    ValueError: not pyoxigraph's N-Triples: 1 of 1 lines without ' .' at their end
    """
    while b"\n\n" in ntriples:
        ntriples = ntriples.replace(b"\n\n", b"\n")
    ntriples = ntriples.lstrip(b"\n")
    if ntriples and not ntriples.endswith(b"\n"):
        ntriples += b"\n"
    ending = f" {name} .\n".encode()
    quads = ntriples.replace(b" .\n", ending)
    lines, named = quads.count(b"\n"), quads.count(ending)
    if named != lines:
        raise ValueError(
            f"not pyoxigraph's N-Triples: {lines - named} of {lines} lines without ' .' at "
            "their end"
        )
    return quads


def changes_sparql(store: ox.Store, name: ox.NamedNode, data: bytes) -> str | None:
    """SPARQL operations that turn graph ``name`` into exactly the N-Triples ``data``,
    or None where this cannot tell (a triple term on either side).

    Both sides are pyoxigraph's N-Triples (the graph as ``Store.dump`` writes it),
    so a triple is the same line on both: the stored lines ``data`` lacks are
    deleted, then the lines the graph lacks inserted. The store keeps some literals
    in another form than they were given (``"5"^^xsd:nonNegativeInteger`` as
    ``"5"^^xsd:integer``, ``"1.50"^^xsd:decimal`` as ``"1.5"``): the lines the graph
    lacks are compared in the store's form (written to a store in memory and read
    back), so a value it has is kept as it is. Blank nodes cannot be named by a
    DELETE DATA: every stored triple with one is deleted by pattern, and the
    given ones inserted with fresh blank nodes (a source has a few, its provenance).
    The caller holds the store's write lock (``KnowledgeStore._writing``): no other
    write comes between this read and the update.
    """
    stored = store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=name) or b""
    if b"<<" in stored or b"<<" in data:
        return None
    old, old_blank = _split_blank(stored)
    new, new_blank = _split_blank(data)
    added = new - old
    if added:
        # The lines the graph lacks, in the form the store keeps them: those it has
        # in that form already (Oslo's 291 "n"^^xsd:nonNegativeInteger, kept as
        # xsd:integer) are then neither deleted nor inserted again.
        scratch = ox.Store()
        scratch.load(b"\n".join(added), ox.RdfFormat.N_TRIPLES, to_graph=name)
        kept = scratch.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=name) or b""
        added = set(kept.split(b"\n"))
        added.discard(b"")
        new |= added
        added -= old
    removed = old - new
    operations = []
    if removed:
        lines = b"\n".join(removed).decode()
        operations.append(f"DELETE DATA {{ GRAPH {name} {{\n{lines}\n}} }}")
    if old_blank:
        operations += _blank_deletions(name, old_blank)
    if added or new_blank:
        operations.append(insert_data(name, b"\n".join([*added, *new_blank])))
    return " ;\n".join(operations)
