"""A pairwise item: A is on the left, B on the right; the choice and the side are stored."""

from __future__ import annotations

import pytest

from annotations.models import Assignment, Campaign, Rating
from tests.annotations.test_views_rater import make_campaign, rater_of
from tests.browser.conftest import login, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _patient(page) -> None:
    """The machine is shared: a cold Chromium's first page load can take over 10 s."""
    page.set_default_timeout(30_000)


def test_a_pairwise_item_records_side_and_choice(page) -> None:
    # given a crowd rater in a pairwise campaign with one item answered by two systems
    campaign = make_campaign(kind=Campaign.Kind.PAIRWISE, items=1, systems=("base", "ft"),
                             text="The {s} answer to question {i}:\n  indented line\n\tand a tab")
    alice = rater_of(campaign, completion_code="C0DE-7Q2X")
    login(page, "alice", "pw-for-tests")

    # when the rater opens it
    page.goto(f"/rate/{campaign.slug}/item/")
    assignment = Assignment.objects.select_related("output", "output_b").get(
        pk=int(page.locator("#rating-form").get_attribute("data-assignment")))
    left = page.locator("#output-a")
    right = page.locator("#output-b")

    # then A (left) is the assignment's output and B (right) its output_b
    assert left.inner_text() == assignment.output.text
    assert right.inner_text() == assignment.output_b.text
    assert left.bounding_box()["x"] < right.bounding_box()["x"]
    screenshot(page, "pairwise-page")

    # and on a phone the two stack, A above B, without sideways scrolling
    page.set_viewport_size({"width": 360, "height": 780})
    assert right.bounding_box()["y"] >= left.bounding_box()["y"] + left.bounding_box()["height"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, "pairwise-page-360")
    page.set_viewport_size({"width": 1280, "height": 900})

    # when she picks B overall, A on fluency, tie on accuracy, and presses Enter
    assert page.evaluate("document.activeElement.name") == "choice"
    page.keyboard.press("b")
    page.keyboard.press("a")
    page.keyboard.press("t")
    with page.expect_navigation():
        page.keyboard.press("Enter")

    # then the rating stores the choice against the pair in the order shown
    rating = Rating.objects.get(rater=alice)
    assert rating.choice == Rating.Choice.B
    assert (rating.output_id, rating.output_b_id) == (assignment.output_id,
                                                      assignment.output_b_id)
    assert rating.preferences == {"fluency": "A", "accuracy": "tie"}
    assert rating.time_spent_ms is not None
    # and the end page thanks her with her completion code
    assert page.get_by_role("heading", name="Thank you!").is_visible()
    assert page.locator("#completion-code").inner_text() == "C0DE-7Q2X"
    screenshot(page, "rater-done")


def test_digits_also_pick_in_pairwise_and_enter_needs_a_choice(page) -> None:
    campaign = make_campaign(kind=Campaign.Kind.PAIRWISE, items=1, systems=("base", "ft"),
                             satisfaction=False)
    alice = rater_of(campaign)
    login(page, "alice", "pw-for-tests")
    page.goto(f"/rate/{campaign.slug}/item/")

    # Enter without a choice: a message, no submission
    page.keyboard.press("Enter")
    assert "Which output is better" in page.locator("#kbd-status").inner_text()
    assert not Rating.objects.exists()

    # 3 = tie overall, then Enter submits (the per-criterion preferences are optional)
    page.keyboard.press("3")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    rating = Rating.objects.get(rater=alice)
    assert rating.choice == Rating.Choice.TIE and rating.preferences == {}
