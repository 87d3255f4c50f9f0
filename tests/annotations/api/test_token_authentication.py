"""annotations.api.authentication.TokenAuthentication behaves as DRF's TokenAuthentication."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient, APIRequestFactory

from annotations.api.authentication import TokenAuthentication
from tests.annotations.factories import UserFactory
from tests.annotations.services.test_assignments import make_campaign, make_rater

pytestmark = pytest.mark.django_db


def _outcome(auth: authentication.BaseAuthentication, header: str | None):
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    request = APIRequestFactory().get("/", **extra)
    try:
        result = auth.authenticate(request)
    except exceptions.AuthenticationFailed as error:
        return "failed", str(error.detail)
    if result is None:
        return None
    user, token = result
    return user.pk, user.username, token.key, token.user_id


@pytest.mark.parametrize("case", ["valid", "unknown", "inactive", "none", "empty", "spaces"])
def test_same_outcome_as_drf(case: str) -> None:
    user = UserFactory(is_active=case != "inactive")
    key = Token.objects.create(user=user).key
    header = {"valid": f"Token {key}", "unknown": "Token " + "0" * 40,
              "inactive": f"Token {key}", "none": None, "empty": "Token",
              "spaces": f"Token {key} extra"}[case]

    ours = _outcome(TokenAuthentication(), header)

    assert ours == _outcome(authentication.TokenAuthentication(), header)
    if case == "valid":
        assert ours == (user.pk, user.username, key, user.pk)
    elif case in ("unknown", "inactive"):
        assert ours[0] == "failed"


def test_the_rater_api_answers_a_token_and_refuses_a_wrong_one() -> None:
    campaign = make_campaign(items=1, systems=1)
    rater = make_rater(campaign)
    key = Token.objects.create(user=rater).key
    url = reverse("annotations-api:campaign-next", kwargs={"slug": campaign.slug})

    good = APIClient().get(url, HTTP_AUTHORIZATION=f"Token {key}")
    bad = APIClient().get(url, HTTP_AUTHORIZATION="Token " + "f" * 40)

    assert good.status_code == 200
    # 403, not 401: SessionAuthentication comes first in settings and sets no challenge.
    assert bad.status_code == 403
    assert bad.json() == {"detail": "Invalid token."}
