"""Rater pages: instructions, rating and pairwise forms, edits, skip, end page, home list."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from annotations.forms_rater import MAX_TIME_SPENT_MS
from annotations.models import (
    Assignment,
    Campaign,
    CampaignMembership,
    Criterion,
    Rating,
    RatingRevision,
    RatingValue,
)
from annotations.selectors import rater_campaign_rows
from annotations.services.assignments import assignment_claim_next
from tests.annotations.factories import (
    CampaignFactory,
    CriterionFactory,
    ItemFactory,
    MembershipFactory,
    OutputFactory,
    SystemFactory,
    UserFactory,
)
from tests.dbstate import row_counts

pytestmark = pytest.mark.django_db

XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def _login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def make_campaign(*, kind: str = Campaign.Kind.RATING, items: int = 3,
                  systems: tuple[str, ...] = ("base",), status: str = Campaign.Status.ACTIVE,
                  options: dict[str, Any] | None = None, satisfaction: bool = True,
                  text: str = "answer {i} from {s}") -> Campaign:
    """An active campaign: fluency and accuracy on 1–5 (+ satisfaction), outputs per item."""
    campaign = CampaignFactory(kind=kind, status=status, overlap=1, options=options or {},
                               instructions="Read carefully.\nThen rate.")
    CriterionFactory(campaign=campaign, key="fluency", label="Fluency", position=0,
                     help_text="Is it well written?",
                     scale_labels={"1": "unreadable", "5": "flawless"})
    CriterionFactory(campaign=campaign, key="accuracy", label="Accuracy", position=1)
    if satisfaction:
        CriterionFactory(campaign=campaign, key="satisfaction", label="Satisfaction",
                         position=2)
    made = [SystemFactory(campaign=campaign, name=name) for name in systems]
    for i in range(1, items + 1):
        item = ItemFactory(campaign=campaign, external_id=f"q{i}", input=f"question {i}?",
                           references=[f"reference {i}"])
        for system in made:
            OutputFactory(item=item, system=system, text=text.format(i=i, s=system.name))
    return campaign


def rater_of(campaign: Campaign, username: str = "alice", **extra: Any) -> Any:
    user = UserFactory(username=username)
    MembershipFactory(campaign=campaign, user=user, role=CampaignMembership.Role.RATER,
                      **extra)
    return user


def item_url(campaign: Campaign) -> str:
    return reverse("annotations:rater-item", args=[campaign.slug])


def post_url(campaign: Campaign, assignment: Assignment) -> str:
    return reverse("annotations:rater-assignment", args=[campaign.slug, assignment.pk])


def current(campaign: Campaign, user: Any) -> Assignment:
    """The rater's open assignment the page shows (first in their queue)."""
    return Assignment.objects.filter(campaign=campaign, rater=user,
                                     status=Assignment.Status.ASSIGNED
                                     ).order_by("position", "pk")[0]


def scores(**values: Any) -> dict[str, Any]:
    data = {"score_fluency": 4, "score_accuracy": 3, "satisfaction": 5, "comment": "",
            "key": "k-1", "time_spent_ms": "4200"}
    data.update(values)
    return {k: v for k, v in data.items() if v is not None}


# --- permissions ----------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_login() -> None:
    campaign = make_campaign()

    response = Client().get(item_url(campaign))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", ["rater-campaign", "rater-item", "rater-done"])
def test_a_non_member_gets_404_on_every_rater_page(name: str) -> None:
    # given a campaign and a user who is not one of its raters
    campaign = make_campaign()
    outsider = UserFactory(username="mallory")

    # when they open its rater pages
    response = _login(outsider).get(reverse(f"annotations:{name}", args=[campaign.slug]))

    # then the campaign does not exist for them, and nothing was claimed
    assert response.status_code == 404
    assert not Assignment.objects.exists()


def test_a_campaign_admin_who_is_not_a_rater_gets_404() -> None:
    campaign = make_campaign()
    admin = UserFactory(username="boss")
    MembershipFactory(campaign=campaign, user=admin, role=CampaignMembership.Role.ADMIN)

    assert _login(admin).get(item_url(campaign)).status_code == 404


def test_another_raters_assignment_is_404_to_read_rate_and_skip() -> None:
    # given bob's current assignment
    campaign = make_campaign()
    bob = rater_of(campaign, "bob")
    alice = rater_of(campaign, "alice")
    assignment = assignment_claim_next(campaign=campaign, rater=bob)
    assert assignment is not None
    before = row_counts()
    client = _login(alice)

    # when alice reads it, rates it and skips it
    read = client.get(post_url(campaign, assignment))
    rate = client.post(post_url(campaign, assignment), scores())
    skip = client.post(reverse("annotations:rater-skip", args=[campaign.slug, assignment.pk]),
                       {"reason": "cannot judge"})

    # then each is a 404 and nothing changed
    assert (read.status_code, rate.status_code, skip.status_code) == (404, 404, 404)
    assert row_counts() == before
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.ASSIGNED


def test_an_own_assignment_under_another_campaigns_slug_is_404() -> None:
    campaign = make_campaign()
    other = make_campaign()
    alice = rater_of(campaign, "alice")
    MembershipFactory(campaign=other, user=alice, role=CampaignMembership.Role.RATER)
    assignment = assignment_claim_next(campaign=campaign, rater=alice)

    response = _login(alice).post(post_url(other, assignment), scores())

    assert response.status_code == 404
    assert not Rating.objects.exists()


# --- the rating page ----------------------------------------------------------------------


def test_the_rating_page_shows_the_current_output_with_one_fieldset_per_criterion() -> None:
    # given a rater in an active campaign
    campaign = make_campaign(systems=("zz-hidden-system",), text="answer {i}")
    alice = rater_of(campaign)

    # when she opens the rating page
    response = _login(alice).get(item_url(campaign))

    # then it shows the claimed assignment's input, reference and output, and the rubric
    page = response.content.decode()
    assignment = current(campaign, alice)
    item = assignment.output.item
    assert response.status_code == 200
    assert f">{assignment.output.text}</div>" in page
    assert item.input in page and item.references[0] in page
    assert f'action="{post_url(campaign, assignment)}"' in page
    assert page.count('<fieldset class="group') == 3
    for name in ("score_fluency", "score_accuracy", "satisfaction"):
        for value in range(1, 6):
            assert f'name="{name}" id="id_{name}_{value - 1}" value="{value}"' in page
    assert "unreadable" in page and "flawless" in page and "Is it well written?" in page
    # system identity is never shown
    assert "zz-hidden-system" not in page


def test_references_are_hidden_when_the_campaign_does_not_show_them() -> None:
    campaign = make_campaign(options={"show_references": False})
    alice = rater_of(campaign)

    page = _login(alice).get(item_url(campaign)).content.decode()

    assert "reference 1" not in page and "reference 2" not in page
    assert "Output to rate" in page


def test_a_valid_submission_is_stored_and_redirects_to_the_next_item() -> None:
    # given the current assignment
    campaign = make_campaign()
    alice = rater_of(campaign)
    client = _login(alice)
    client.get(item_url(campaign))
    assignment = current(campaign, alice)

    # when the form is posted
    response = client.post(post_url(campaign, assignment),
                           scores(comment="  two spaces kept  "))

    # then one rating holds the values, comment and time, and the next item follows
    assert response.status_code == 302 and response["Location"] == item_url(campaign)
    rating = Rating.objects.get()
    assert rating.assignment_id == assignment.pk and rating.output_id == assignment.output_id
    assert dict(rating.values.values_list("criterion__key", "value")) == {
        "fluency": 4.0, "accuracy": 3.0, "satisfaction": 5.0}
    assert rating.comment == "  two spaces kept  "
    assert rating.time_spent_ms == 4200 and rating.key == "k-1"
    assert rating.source == Rating.Source.FORM
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.SUBMITTED
    client.get(item_url(campaign))
    assert current(campaign, alice).pk != assignment.pk


def test_a_double_submit_with_the_same_key_stores_one_rating() -> None:
    campaign = make_campaign()
    alice = rater_of(campaign)
    client = _login(alice)
    client.get(item_url(campaign))
    assignment = current(campaign, alice)

    first = client.post(post_url(campaign, assignment), scores(key="same-key"))
    second = client.post(post_url(campaign, assignment), scores(key="same-key",
                                                                score_fluency=1))

    assert first.status_code == second.status_code == 302
    assert Rating.objects.count() == 1
    assert RatingValue.objects.count() == 3
    assert not RatingRevision.objects.exists()
    assert RatingValue.objects.get(criterion__key="fluency").value == 4.0


def test_each_page_render_carries_a_fresh_idempotency_key() -> None:
    campaign = make_campaign()
    client = _login(rater_of(campaign))

    keys = [re.search(r'name="key" value="([^"]+)"', client.get(item_url(campaign))
                      .content.decode()).group(1) for _ in range(2)]

    assert keys[0] != keys[1] and all(len(k) >= 20 for k in keys)


@pytest.mark.parametrize(("bad", "message"), [
    ({"score_fluency": "7"}, "Select a valid choice"),
    ({"score_fluency": "abc"}, "Select a valid choice"),
    ({"score_fluency": None}, "Pick a value for Fluency."),
    ({"satisfaction": None}, "Pick a value for Satisfaction."),
    ({"key": None}, "This field is required."),
    ({"comment": "x" * 10_001}, "at most 10000 characters"),
])
def test_bad_values_re_render_with_errors_and_store_nothing(bad: dict[str, Any],
                                                            message: str) -> None:
    # given the current assignment
    campaign = make_campaign()
    alice = rater_of(campaign)
    client = _login(alice)
    client.get(item_url(campaign))
    assignment = current(campaign, alice)
    before = row_counts()

    # when a bad form is posted
    response = client.post(post_url(campaign, assignment), scores(**bad))

    # then the page comes back with the error and nothing is written
    page = response.content.decode()
    assert response.status_code == 200
    assert message in page and 'role="alert"' in page
    assert row_counts() == before
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.ASSIGNED


def test_an_error_keeps_the_values_already_picked() -> None:
    campaign = make_campaign()
    alice = rater_of(campaign)
    client = _login(alice)
    client.get(item_url(campaign))

    page = client.post(post_url(campaign, current(campaign, alice)),
                       scores(score_accuracy=None)).content.decode()

    assert 'name="score_fluency" id="id_score_fluency_3" value="4" data-keys="4" checked' in page
    assert 'fieldset class="group invalid" data-group="score_accuracy"' in page


@pytest.mark.parametrize(("sent", "stored"), [
    ("4200", 4200), ("-50", 0), (str(10**12), MAX_TIME_SPENT_MS), ("soon", None), ("", None),
    ("nan", None), ("1500.6", 1500),
])
def test_time_on_task_is_clamped_to_sane_bounds(sent: str, stored: int | None) -> None:
    campaign = make_campaign()
    alice = rater_of(campaign)
    client = _login(alice)
    client.get(item_url(campaign))

    client.post(post_url(campaign, current(campaign, alice)), scores(time_spent_ms=sent))

    assert Rating.objects.get().time_spent_ms == stored


def test_untrusted_text_is_escaped_in_the_page() -> None:
    # given an output, input and reference carrying markup
    campaign = make_campaign(items=1, text=XSS)
    item = campaign.items.get()
    item.input = XSS
    item.references = [XSS]
    item.save()
    alice = rater_of(campaign)

    # when the rating page is shown
    page = _login(alice).get(item_url(campaign)).content.decode()

    # then the markup is text, never a tag
    escaped = ("&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;")
    assert page.count(escaped) == 3
    assert "<script>alert" not in page and "<img src=x" not in page


@pytest.mark.parametrize(("low", "high", "outside", "inside", "message"), [
    (-0.5, 0.5, "0.75", "-0.25", "less than or equal to 0.5"),
    (0, 100, "-1", "73", "greater than or equal to 0"),
])
def test_a_non_integer_or_long_scale_takes_a_number_inside_it(
        low: float, high: float, outside: str, inside: str, message: str) -> None:
    # given a criterion whose scale is not a few whole points
    campaign = make_campaign(satisfaction=False)
    CriterionFactory(campaign=campaign, key="adequacy", label="Adequacy", scale_min=low,
                     scale_max=high, position=3)
    alice = rater_of(campaign)
    client = _login(alice)
    page = client.get(item_url(campaign)).content.decode()
    assignment = current(campaign, alice)
    assert 'type="number" class="number" name="score_adequacy"' in page
    assert f'min="{low:g}" max="{high:g}"' in page

    # when a value outside is posted, then one inside
    refused = client.post(post_url(campaign, assignment), scores(score_adequacy=outside))
    stored = client.post(post_url(campaign, assignment), scores(score_adequacy=inside))

    # then the first is refused and the second stored
    assert refused.status_code == 200 and message in refused.content.decode()
    assert stored.status_code == 302
    assert RatingValue.objects.get(criterion__key="adequacy").value == float(inside)


def test_a_zero_to_one_scale_is_two_points() -> None:
    campaign = make_campaign(satisfaction=False)
    CriterionFactory(campaign=campaign, key="fact", label="Factual", scale_min=0, scale_max=1,
                     level="nominal", scale_labels={"0": "no", "1": "yes"}, position=3)
    alice = rater_of(campaign)

    page = _login(alice).get(item_url(campaign)).content.decode()

    assert 'name="score_fact" id="id_score_fact_0" value="0" data-keys="0"' in page
    assert 'name="score_fact" id="id_score_fact_1" value="1" data-keys="1"' in page
    assert 'name="score_fact" id="id_score_fact_2"' not in page


@pytest.mark.parametrize(("low", "high", "keys"), [
    (1, 5, ["1", "2", "3", "4", "5"]),
    (0, 10, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", ""]),
    (1, 10, ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0"]),
    (-2, 2, ["1", "2", "3", "4", "5"]),
])
def test_digit_keys_follow_the_scale_values(low: int, high: int, keys: list[str]) -> None:
    campaign = make_campaign(satisfaction=False)
    CriterionFactory(campaign=campaign, key="overall", label="Overall", scale_min=low,
                     scale_max=high, position=3)
    alice = rater_of(campaign)

    page = _login(alice).get(item_url(campaign)).content.decode()

    for i, (value, key) in enumerate(zip(range(low, high + 1), keys, strict=True)):
        assert (f'name="score_overall" id="id_score_overall_{i}" value="{value}" '
                f'data-keys="{key}"') in page


def test_an_optional_criterion_may_be_left_empty() -> None:
    campaign = make_campaign()
    Criterion.objects.filter(campaign=campaign, key="accuracy").update(required=False)
    alice = rater_of(campaign)
    client = _login(alice)
    client.get(item_url(campaign))

    response = client.post(post_url(campaign, current(campaign, alice)),
                           scores(score_accuracy=None))

    assert response.status_code == 302
    assert set(Rating.objects.get().values.values_list("criterion__key", flat=True)) == {
        "fluency", "satisfaction"}


# --- previous, skip, progress ---------------------------------------------------------------


def test_previous_opens_the_last_rated_item_prefilled_and_saves_an_edit() -> None:
    # given one rated item
    campaign = make_campaign()
    alice = rater_of(campaign)
    client = _login(alice)
    client.get(item_url(campaign))
    first = current(campaign, alice)
    client.post(post_url(campaign, first), scores(comment="first try"))

    # when the next page is shown, then Previous leads to the first item
    page = client.get(item_url(campaign)).content.decode()
    assert f'id="previous-link" href="{post_url(campaign, first)}"' in page
    edit = client.get(post_url(campaign, first)).content.decode()
    assert 'value="4" data-keys="4" checked' in edit and "first try" in edit
    assert "Save changes" in edit and 'id="editing-notice"' in edit
    assert f">{first.output.text}</div>" in edit

    # when the edit is saved with the page's new key
    response = client.post(post_url(campaign, first), scores(score_fluency=2, key="k-2",
                                                             comment="second thoughts"))

    # then the rating changed, its old state is a revision, and the current item follows
    assert response.status_code == 302 and response["Location"] == item_url(campaign)
    rating = Rating.objects.get()
    assert RatingValue.objects.get(rating=rating, criterion__key="fluency").value == 2.0
    assert rating.comment == "second thoughts"
    revision = RatingRevision.objects.get()
    assert revision.values["fluency"] == 4.0 and revision.comment == "first try"


def test_the_current_item_has_no_previous_link_before_any_rating() -> None:
    campaign = make_campaign()
    page = _login(rater_of(campaign)).get(item_url(campaign)).content.decode()

    assert 'id="previous-link"' not in page


def test_opening_the_current_assignment_by_id_shows_the_current_page() -> None:
    campaign = make_campaign()
    alice = rater_of(campaign)
    client = _login(alice)
    client.get(item_url(campaign))

    response = client.get(post_url(campaign, current(campaign, alice)))

    assert response.status_code == 302 and response["Location"] == item_url(campaign)


@pytest.mark.parametrize("reason", ["cannot judge", "broken output"])
def test_skip_with_a_reason_moves_on(reason: str) -> None:
    campaign = make_campaign()
    alice = rater_of(campaign)
    client = _login(alice)
    client.get(item_url(campaign))
    assignment = current(campaign, alice)

    response = client.post(
        reverse("annotations:rater-skip", args=[campaign.slug, assignment.pk]),
        {"reason": reason})

    assert response.status_code == 302 and response["Location"] == item_url(campaign)
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.SKIPPED
    assert assignment.skip_reason == reason
    assert not Rating.objects.exists()


def test_skip_for_another_reason_needs_words_and_changes_nothing_without() -> None:
    campaign = make_campaign()
    alice = rater_of(campaign)
    client = _login(alice)
    client.get(item_url(campaign))
    assignment = current(campaign, alice)
    url = reverse("annotations:rater-skip", args=[campaign.slug, assignment.pk])

    empty = client.post(url, {"reason": "other", "other": "  "})
    assignment.refresh_from_db()
    assert empty.status_code == 200 and "Say in a few words" in empty.content.decode()
    assert assignment.status == Assignment.Status.ASSIGNED

    client.post(url, {"reason": "other", "other": "text in another language"})
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.SKIPPED
    assert assignment.skip_reason == "other: text in another language"


def test_a_rated_item_cannot_be_skipped_afterwards() -> None:
    campaign = make_campaign()
    alice = rater_of(campaign)
    client = _login(alice)
    client.get(item_url(campaign))
    assignment = current(campaign, alice)
    client.post(post_url(campaign, assignment), scores())

    response = client.post(
        reverse("annotations:rater-skip", args=[campaign.slug, assignment.pk]),
        {"reason": "cannot judge"})

    assert response.status_code == 302 and response["Location"] == item_url(campaign)
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.SUBMITTED and assignment.skip_reason == ""
    assert Rating.objects.filter(assignment=assignment).exists()


def test_the_progress_bar_counts_done_assigned_and_total() -> None:
    # given a campaign of 3 items x 2 systems and one rated output
    campaign = make_campaign(systems=("base", "ft"))
    alice = rater_of(campaign)
    client = _login(alice)
    client.get(item_url(campaign))
    client.post(post_url(campaign, current(campaign, alice)), scores())

    # when the next page is shown
    page = client.get(item_url(campaign)).content.decode()

    # then: 1 done, the other output of the item block assigned, 6 outputs in all
    assert '<progress id="progress-bar" aria-label="Your progress" max="6" value="1"' in page
    assert "<strong>1</strong> done · 1 assigned · 6 total" in page


# --- campaign status, instructions, end page, home ----------------------------------------


@pytest.mark.parametrize(("status", "words"), [
    (Campaign.Status.PAUSED, "paused"), (Campaign.Status.CLOSED, "closed"),
    (Campaign.Status.DRAFT, "not started"),
])
def test_a_campaign_not_taking_ratings_shows_a_calm_message(status: str, words: str) -> None:
    campaign = make_campaign(status=status)
    alice = rater_of(campaign)

    response = _login(alice).get(item_url(campaign))

    assert response.status_code == 200
    assert words in response.content.decode() and 'id="unavailable"' in response.content.decode()
    assert not Assignment.objects.exists()


def test_a_rating_posted_after_a_pause_is_kept() -> None:
    campaign = make_campaign()
    alice = rater_of(campaign)
    client = _login(alice)
    client.get(item_url(campaign))
    assignment = current(campaign, alice)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.PAUSED)

    response = client.post(post_url(campaign, assignment), scores())

    assert response.status_code == 302
    assert Rating.objects.filter(assignment=assignment).exists()
    assert "paused" in client.get(response["Location"]).content.decode()


def test_the_instructions_page_shows_the_rubric_and_a_start_button() -> None:
    campaign = make_campaign()
    alice = rater_of(campaign)

    page = _login(alice).get(reverse("annotations:rater-campaign",
                                     args=[campaign.slug])).content.decode()

    assert "<p>Read carefully.<br>Then rate.</p>" in page
    assert "Fluency" in page and "Is it well written?" in page
    assert f'id="start-link" href="{item_url(campaign)}">Start<' in page
    assert not Assignment.objects.exists()


def test_when_nothing_is_left_the_end_page_thanks_and_shows_the_completion_code() -> None:
    # given a crowd rater who rated the only output
    campaign = make_campaign(items=1)
    alice = rater_of(campaign, completion_code="C0DE-7Q")
    client = _login(alice)
    client.get(item_url(campaign))
    client.post(post_url(campaign, current(campaign, alice)), scores())

    # when the next item is asked for
    response = client.get(item_url(campaign), follow=True)

    # then the end page thanks them and shows the code
    page = response.content.decode()
    assert response.redirect_chain == [(reverse("annotations:rater-done",
                                                args=[campaign.slug]), 302)]
    assert "Thank you" in page and 'id="completion-code"' in page and "C0DE-7Q" in page


def test_the_end_page_sends_a_rater_with_work_left_back_to_it() -> None:
    campaign = make_campaign(items=2)
    alice = rater_of(campaign, completion_code="C0DE-7Q")

    response = _login(alice).get(reverse("annotations:rater-done", args=[campaign.slug]))

    assert response.status_code == 302 and response["Location"] == item_url(campaign)


def test_the_end_page_shows_no_code_outside_crowd_mode() -> None:
    campaign = make_campaign(status=Campaign.Status.CLOSED)
    alice = rater_of(campaign)

    page = _login(alice).get(reverse("annotations:rater-done",
                                     args=[campaign.slug])).content.decode()

    assert "Thank you" in page and "completion-code" not in page


def test_home_lists_my_campaigns_with_progress_and_continue(rf: Any) -> None:
    # given a rater with one rated output in a campaign and a fresh second campaign
    started = make_campaign()
    fresh = make_campaign()
    alice = rater_of(started)
    MembershipFactory(campaign=fresh, user=alice, role=CampaignMembership.Role.RATER)
    client = _login(alice)
    client.get(item_url(started))
    client.post(post_url(started, current(started, alice)), scores())

    # when the home page is rendered with her rows
    request = rf.get("/")
    request.user = alice
    page = render_to_string("annotations/home.html", {
        "my_campaigns": rater_campaign_rows(user=alice), "rating_in": [1, 2]},
        request=request)

    # then each campaign shows progress and leads to its work
    assert "My campaigns" in page and "You rate in 2 campaigns." in page
    assert f'href="{item_url(started)}">Continue' in page
    assert (f'href="{reverse("annotations:rater-campaign", args=[fresh.slug])}">Start'
            in page)
    assert "<strong>1</strong> done · 0 assigned · 3 total" in page


def test_home_links_a_new_raters_campaign_to_its_instructions() -> None:
    campaign = make_campaign()
    alice = rater_of(campaign)

    page = _login(alice).get(reverse("annotations:home")).content.decode()

    assert "My campaigns" in page
    assert f'href="{reverse("annotations:rater-campaign", args=[campaign.slug])}"' in page


# --- pairwise ---------------------------------------------------------------------------------


def test_the_pairwise_page_shows_a_left_and_b_right_and_stores_choice_and_preferences() -> None:
    # given a pairwise campaign with one item answered by two systems
    campaign = make_campaign(kind=Campaign.Kind.PAIRWISE, items=1, systems=("base", "ft"))
    alice = rater_of(campaign)
    client = _login(alice)

    # when the page is shown
    page = client.get(item_url(campaign)).content.decode()
    assignment = current(campaign, alice)

    # then A is the assignment's output and B its output_b, with A/B/tie questions
    a = page.index(f'id="output-a" tabindex="0" role="region" aria-labelledby="label-a">'
                   f'{assignment.output.text}<')
    b = page.index(f'id="output-b" tabindex="0" role="region" aria-labelledby="label-b">'
                   f'{assignment.output_b.text}<')
    assert a < b
    for i, (value, keys) in enumerate((("A", "a 1"), ("B", "b 2"), ("tie", "t 3"))):
        assert f'name="choice" id="id_choice_{i}" value="{value}" data-keys="{keys}"' in page

    # when B wins overall and A on fluency
    response = client.post(post_url(campaign, assignment), {
        "choice": "B", "pref_fluency": "A", "pref_accuracy": "", "comment": "",
        "key": "pk-1", "time_spent_ms": "900"})

    # then the rating records the choice, the sides and the preference
    assert response.status_code == 302
    rating = Rating.objects.get()
    assert (rating.choice, rating.output_id, rating.output_b_id) == (
        "B", assignment.output_id, assignment.output_b_id)
    assert rating.preferences == {"fluency": "A"}
    assert not rating.values.exists()


@pytest.mark.parametrize("bad", [{}, {"choice": "C"}, {"choice": "B", "pref_fluency": "left"}])
def test_a_pairwise_form_without_a_valid_choice_stores_nothing(bad: dict[str, str]) -> None:
    campaign = make_campaign(kind=Campaign.Kind.PAIRWISE, items=1, systems=("base", "ft"))
    alice = rater_of(campaign)
    client = _login(alice)
    client.get(item_url(campaign))
    before = row_counts()

    response = client.post(post_url(campaign, current(campaign, alice)),
                           {"key": "pk-1", **bad})

    assert response.status_code == 200 and 'role="alert"' in response.content.decode()
    assert row_counts() == before


def test_a_pairwise_edit_is_prefilled_with_choice_and_preferences() -> None:
    campaign = make_campaign(kind=Campaign.Kind.PAIRWISE, items=2, systems=("base", "ft"))
    alice = rater_of(campaign)
    client = _login(alice)
    client.get(item_url(campaign))
    first = current(campaign, alice)
    client.post(post_url(campaign, first), {"choice": "tie", "pref_accuracy": "B",
                                            "key": "pk-1"})

    page = client.get(post_url(campaign, first)).content.decode()

    assert 'name="choice" id="id_choice_2" value="tie" data-keys="t 3" checked' in page
    assert 'name="pref_accuracy" id="id_pref_accuracy_1" value="B" data-keys="b 2" checked' in page
