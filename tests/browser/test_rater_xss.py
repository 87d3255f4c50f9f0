"""Model output is untrusted: markup in it is shown as text and no script runs."""

from __future__ import annotations

import pytest

from annotations.models import Item, Rating
from tests.annotations.test_views_rater import XSS, make_campaign, rater_of
from tests.browser.conftest import login

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _patient(page) -> None:
    """The machine is shared: a cold Chromium's first page load can take over 10 s."""
    page.set_default_timeout(30_000)


def test_markup_in_an_output_is_text_and_fires_no_dialog(page) -> None:
    # given an output (and an input, and a reference) carrying a script and an image handler
    campaign = make_campaign(items=2, text=XSS, satisfaction=False)
    Item.objects.filter(campaign=campaign).update(input=XSS, references=[XSS])
    alice = rater_of(campaign)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    login(page, "alice", "pw-for-tests")

    # when the rater opens, rates, and reopens the item to edit it
    page.goto(f"/rate/{campaign.slug}/item/")
    shown = page.locator("#output-a").inner_text()
    injected = page.evaluate("document.querySelectorAll('main img, main script').length")
    for key in ("3", "3"):
        page.keyboard.press(key)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    with page.expect_navigation():
        page.get_by_role("link", name="Previous item").click()
    page.wait_for_load_state("load")

    # then the markup was text on both pages and no dialog fired
    assert shown == XSS
    assert page.locator("#output-a").inner_text() == XSS
    assert page.locator(".input-text").inner_text() == XSS
    assert injected == 0
    assert page.evaluate("document.querySelectorAll('main img, main script').length") == 0
    assert dialogs == []
    assert Rating.objects.filter(rater=alice).count() == 1
