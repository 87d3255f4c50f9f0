"""The login page works in a real browser and leads to the home page."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.browser.conftest import login

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_user_logs_in_and_sees_their_campaigns(page) -> None:
    get_user_model().objects.create_user("alice", password="pw-alice-123")
    login(page, "alice", "pw-alice-123")
    assert page.url.endswith("/")
    assert page.locator(".who").inner_text() == "alice"


def test_a_wrong_password_is_refused_with_a_message(page) -> None:
    get_user_model().objects.create_user("bob", password="right-one-123")
    login(page, "bob", "wrong")
    assert page.get_by_role("alert").is_visible()
