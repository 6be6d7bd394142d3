"""Behaviour the virtualitics-sdk 1.62 stubs document, beyond the signatures (second pass)."""

from __future__ import annotations

from virtualitics_sdk import Page, Section
from virtualitics_sdk.page.card import Card, Container


def _page(*containers: Container) -> Page:
    return Page("P", [Section("S", list(containers))])


def test_container_set_visibility_forces_update() -> None:
    # stub: "Sets the visiblity of the Container. Uses force_update to account for cases where
    # the front-end only container toggle was used elsewhere."
    container = Container("M", [], _id="m")
    before = container.hash_bump
    container.set_visibility(True)
    assert container.visible is True
    assert container.hash_bump == before + 1
    assert container.visible_changed_at is not None


def test_container_visible_assignment_records_the_change() -> None:
    container = Container("M", [], _id="m")
    assert container.visible_changed_at is None  # constructing is not a change
    container.visible = True  # the stub's example sets it directly
    assert container.visible is True
    assert container.visible_changed_at is not None
    copy = Card.from_json(container.to_json())
    assert isinstance(copy, Container)
    assert copy.visible is True
    assert copy.visible_changed_at == container.visible_changed_at


def test_check_one_container_visible_keeps_the_most_recently_changed() -> None:
    # stub: "Verify that only one Container instance is visible. If multiple are visible, only
    # keep the most recently changed Container visible."
    first, second = Container("A", [], _id="a"), Container("B", [], _id="b")
    page = _page(first, second)
    second.set_visibility(True)
    first.visible = True  # changed last, although earlier on the page
    page.check_one_container_visible()
    assert (first.visible, second.visible) == (True, False)


def test_check_one_container_visible_never_changed_keeps_the_last() -> None:
    page = _page(Container("A", [], visible=True), Container("B", [], visible=True))
    page.check_one_container_visible()
    assert [card.visible for card in page.cards] == [False, True]


def test_page_validate_hides_older_visible_containers_instead_of_raising() -> None:
    first, second = Container("A", [], _id="a"), Container("B", [], _id="b")
    page = _page(first, second)
    first.set_visibility(True)
    second.set_visibility(True)
    page.validate()
    assert (first.visible, second.visible) == (False, True)
    assert [card.visible for card in Page.from_json(page.to_json()).cards] == [False, True]
