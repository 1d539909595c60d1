"""The list of classes is declared in the shapes (kgsh:searchOrder, kgsh:homeOrder,
kgsh:sharing) and read from there by search, the home page, write scope and loading."""

from __future__ import annotations

from loaders.classes import classes, counted, searched
from service.access.scope import catalogue_classes
from service.store.sources import shared_classes


def test_search_and_the_home_page_keep_the_order_they_had_as_code_lists() -> None:
    assert [c.name for c in searched()] == [
        "Municipality",
        "Application",
        "Vendor",
        "StatutoryService",
        "Region",
        "Dataset",
        "LegalBasis",
        "NationalComponent",
        "County",
        "Contract",
    ]
    assert [(c.name, c.plural_nb, c.plural_en) for c in counted()][:2] == [
        ("Municipality", "Kommuner", "Municipalities"),
        ("County", "Fylker", "Counties"),
    ]
    assert [c.name for c in counted()][-3:] == [
        "ApplicationUsage",
        "Dataset",
        "Contract",
    ]


def test_sharing_is_what_scope_and_loading_use() -> None:
    names = {c.iri: c.name for c in classes()}
    assert sorted(names[c] for c in catalogue_classes()) == ["Application", "Vendor"]
    assert sorted(names[c] for c in shared_classes()) == [
        "Application",
        "County",
        "LegalBasis",
        "Municipality",
        "NationalComponent",
        "Region",
        "StatutoryService",
        "Vendor",
    ]


def test_every_counted_class_has_both_plural_names() -> None:
    assert all(c.plural_nb and c.plural_en for c in counted())
