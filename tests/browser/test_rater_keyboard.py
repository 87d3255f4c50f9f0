"""A rater works with the keyboard only, sees progress advance, leaves and resumes."""

from __future__ import annotations

import pytest

from annotations.models import Assignment, Rating
from tests.annotations.test_views_rater import make_campaign, rater_of
from tests.browser.conftest import login, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _patient(page) -> None:
    """The machine is shared: a cold Chromium's first page load can take over 10 s."""
    page.set_default_timeout(30_000)

PASSWORD = "pw-for-tests"  # tests.annotations.factories.UserFactory


def _focused_name(page) -> str:
    return page.evaluate("document.activeElement && (document.activeElement.name || "
                         "document.activeElement.id)")


def _done(page) -> int:
    return int(page.locator(".progress-box").get_attribute("data-done"))


def _current(page) -> tuple[int, str]:
    form = page.locator("#rating-form")
    return int(form.get_attribute("data-assignment")), page.locator("#output-a").inner_text()


def test_three_items_by_keyboard_then_resume_after_closing_the_browser(browser, live_server,
                                                                        page) -> None:
    # given a rater in a campaign of five items rated on fluency and accuracy
    campaign = make_campaign(items=5, satisfaction=False)
    alice = rater_of(campaign)
    login(page, "alice", PASSWORD)

    # when she opens the campaign and starts from its instructions with the keyboard
    page.goto(f"/rate/{campaign.slug}/")
    screenshot(page, "rater-instructions")
    with page.expect_navigation():
        page.get_by_role("link", name="Start").press("Enter")

    # then the first criterion has the focus and nothing is done yet
    assert _focused_name(page) == "score_fluency" and _done(page) == 0

    # item 1: Enter with nothing picked names the missing criterion and does not submit
    first, _ = _current(page)
    page.keyboard.press("Enter")
    assert "Fluency" in page.locator("#kbd-status").inner_text()
    assert "problem" in page.locator("#kbd-status").get_attribute("class")  # shown in red
    assert _current(page)[0] == first
    # a digit picks the value and moves on (a confirmation, not shown as a problem); Enter
    # again names the next missing criterion
    page.keyboard.press("4")
    assert page.locator("#id_score_fluency_3").is_checked()
    assert page.locator("#kbd-status").inner_text() == "Fluency: 4"
    assert "problem" not in page.locator("#kbd-status").get_attribute("class")
    assert _focused_name(page) == "score_accuracy"
    page.keyboard.press("Enter")
    assert "Accuracy" in page.locator("#kbd-status").inner_text()
    assert _focused_name(page) == "score_accuracy"
    page.keyboard.press("5")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert _done(page) == 1

    # item 2: a digit, then the arrow key inside the next radio group, then Enter
    second, _ = _current(page)
    page.keyboard.press("2")
    page.keyboard.press("ArrowRight")  # focus was on 1 (unchecked): the arrow picks 2
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert _done(page) == 2

    # item 3: Shift+Tab goes back to the previous criterion to change it
    third, _ = _current(page)
    page.keyboard.press("1")
    page.keyboard.press("Shift+Tab")
    assert _focused_name(page) == "score_fluency"
    page.keyboard.press("3")
    page.keyboard.press("5")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert _done(page) == 3
    assert "3" in page.locator(".progress-text").inner_text()
    fourth, fourth_text = _current(page)

    # then the three ratings hold what was typed, with time on task
    stored = {r.assignment_id: (dict(r.values.values_list("criterion__key", "value")),
                                r.time_spent_ms)
              for r in Rating.objects.filter(rater=alice)}
    assert {k: v[0] for k, v in stored.items()} == {
        first: {"fluency": 4.0, "accuracy": 5.0},
        second: {"fluency": 2.0, "accuracy": 2.0},
        third: {"fluency": 3.0, "accuracy": 5.0},
    }
    assert all(ms is not None and ms > 0 for _, ms in stored.values())

    # when she closes the browser, opens a new one and logs in again
    page.context.close()
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(30_000)
    again = context.new_page()
    try:
        login(again, "alice", PASSWORD)
        # the home page lists her campaign with its progress and a Continue button
        assert again.url == f"{live_server.url}/"
        with again.expect_navigation():
            again.get_by_role("link", name="Continue").press("Enter")

        # then she is back on the same fourth item, with her progress
        assert _current(again) == (fourth, fourth_text)
        assert _done(again) == 3
        assert Assignment.objects.get(pk=fourth).status == Assignment.Status.ASSIGNED
    finally:
        context.close()


def test_previous_item_can_be_changed_from_the_keyboard(page) -> None:
    # given one rated item
    campaign = make_campaign(items=3, satisfaction=False)
    alice = rater_of(campaign)
    login(page, "alice", PASSWORD)
    page.goto(f"/rate/{campaign.slug}/item/")
    first, _ = _current(page)
    for key in ("4", "4", "Enter"):
        page.keyboard.press(key)
    page.wait_for_url(f"**/rate/{campaign.slug}/item/")
    page.wait_for_function(f"document.querySelector('#rating-form').dataset.assignment != "
                           f"'{first}'")

    # when she follows Previous and changes fluency to 1
    with page.expect_navigation():
        page.get_by_role("link", name="Previous item").press("Enter")
    assert page.locator("#id_score_fluency_3").is_checked()
    page.locator("#id_score_fluency_3").focus()
    page.keyboard.press("1")
    with page.expect_navigation():
        page.keyboard.press("Enter")

    # then the rating changed and she is back on the current item
    rating = Rating.objects.get(rater=alice, assignment_id=first)
    assert dict(rating.values.values_list("criterion__key", "value")) == {
        "fluency": 1.0, "accuracy": 4.0}
    assert rating.revisions.count() == 1
    assert _current(page)[0] != first


LONG_OUTPUT = (
    "Here is a function that does it:\n\n```python\ndef mean(xs):\n    return sum(xs) / len(xs)\n"
    "```\n\n**Note**: an empty list raises ZeroDivisionError.\n"
    + "\n".join(f"{i}. a longer line of explanation that wraps on small screens, number {i}"
                for i in range(1, 30))
    + "\nA_very_long_token_without_spaces_" + "x" * 120
)


@pytest.mark.parametrize(("name", "width"), [("rating-page", 1280), ("rating-page-360", 360)])
def test_rating_page_screenshot(page, name: str, width: int) -> None:
    # given an output with markdown, code and a very long token
    campaign = make_campaign(items=1, text=LONG_OUTPUT)
    rater_of(campaign)
    page.set_viewport_size({"width": width, "height": 900 if width > 400 else 780})
    login(page, "alice", PASSWORD)

    # when the rating page is shown
    page.goto(f"/rate/{campaign.slug}/item/")

    # then the text is kept as written, nothing overflows sideways, and it is saved
    assert page.locator("#output-a").inner_text() == LONG_OUTPUT
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.locator("#output-a").evaluate(
        "e => getComputedStyle(e).whiteSpace") == "pre-wrap"
    if width == 360:
        first = page.locator("fieldset.group").first.bounding_box()
        output = page.locator("#output-a").bounding_box()
        assert first["y"] > output["y"] + output["height"] - 1  # one column: form below text
    screenshot(page, name)


def test_the_back_button_shows_the_current_item_not_a_stale_copy(page) -> None:
    # given a rater who rated her first item and is on the second
    campaign = make_campaign(items=3, satisfaction=False)
    alice = rater_of(campaign)
    login(page, "alice", PASSWORD)
    page.goto(f"/rate/{campaign.slug}/item/")
    first, _ = _current(page)
    for key in ("2", "2"):
        page.keyboard.press(key)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    second, second_text = _current(page)
    assert second != first

    # when she presses the browser's back button
    page.go_back()
    page.wait_for_function(f"document.querySelector('#rating-form') && "
                           f"document.querySelector('#rating-form').dataset.assignment == "
                           f"'{second}'")

    # then the page is the current (second) item, and rating it stores the second item
    assert _current(page) == (second, second_text)
    for key in ("5", "5"):
        page.keyboard.press(key)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    stored = dict(Rating.objects.filter(rater=alice).values_list("assignment_id", "key"))
    assert set(stored) == {first, second}
    assert dict(Rating.objects.get(assignment_id=first).values.values_list(
        "criterion__key", "value")) == {"fluency": 2.0, "accuracy": 2.0}
