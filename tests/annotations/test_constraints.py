"""Database constraints hold even when code bypasses validation."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from annotations.models import Criterion, Output, Rating, RatingValue
from tests.annotations.factories import (
    CriterionFactory,
    ItemFactory,
    OutputFactory,
    RatingFactory,
    RatingValueFactory,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("value", [0.99, 5.01, -3, 100])
def test_a_value_outside_the_criterion_scale_is_refused_by_the_database(value):
    criterion = CriterionFactory(scale_min=1, scale_max=5)
    rating = RatingFactory(output__item__campaign=criterion.campaign)
    with pytest.raises(IntegrityError), transaction.atomic():
        RatingValue.objects.create(rating=rating, criterion=criterion, value=value)


def test_an_update_out_of_scale_is_refused_and_in_scale_is_kept():
    criterion = CriterionFactory(scale_min=0, scale_max=2)
    value = RatingValueFactory(criterion=criterion, value=1,
                               rating__output__item__campaign=criterion.campaign)
    with pytest.raises(IntegrityError), transaction.atomic():
        RatingValue.objects.filter(pk=value.pk).update(value=3)
    RatingValue.objects.filter(pk=value.pk).update(value=2)
    assert RatingValue.objects.get(pk=value.pk).value == 2


def test_bounds_are_inclusive():
    criterion = CriterionFactory(scale_min=1, scale_max=5)
    rating = RatingFactory(output__item__campaign=criterion.campaign)
    RatingValue.objects.create(rating=rating, criterion=criterion, value=1)
    other = CriterionFactory(campaign=criterion.campaign, scale_min=1, scale_max=5)
    RatingValue.objects.create(rating=rating, criterion=other, value=5)


def test_one_value_per_rating_and_criterion():
    value = RatingValueFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        RatingValue.objects.create(rating=value.rating, criterion=value.criterion, value=2)


def test_one_rating_per_rater_and_output():
    rating = RatingFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Rating.objects.create(rater=rating.rater, output=rating.output)


def test_one_output_per_item_and_system():
    output = OutputFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Output.objects.create(item=output.item, system=output.system, text="again")


def test_scale_min_must_be_below_max():
    criterion = CriterionFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Criterion.objects.filter(pk=criterion.pk).update(scale_min=5, scale_max=5)


def test_nan_is_never_a_score():
    criterion = CriterionFactory()
    rating = RatingFactory(output__item__campaign=criterion.campaign)
    with pytest.raises(IntegrityError), transaction.atomic():
        RatingValue.objects.create(rating=rating, criterion=criterion, value=float("nan"))


def test_a_value_of_a_missing_rating_is_refused_by_the_database():
    criterion = CriterionFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        RatingValue.objects.create(rating_id=987654321, criterion=criterion, value=3)


def test_a_value_of_a_missing_criterion_is_refused_by_the_database():
    rating = RatingFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        RatingValue.objects.create(rating=rating, criterion_id=987654321, value=3)


def test_deleting_a_rating_deletes_its_values():
    value = RatingValueFactory()
    value.rating.delete()
    assert not RatingValue.objects.filter(pk=value.pk).exists()


def test_an_output_needs_its_item_and_system_in_one_campaign():
    output = OutputFactory()
    other_campaign_item = ItemFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Output.objects.create(item=other_campaign_item, system=output.system, text="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        Output.objects.create(item_id=987654321, system=output.system, text="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        Output.objects.filter(pk=output.pk).update(system_id=987654321)


def test_deleting_an_item_deletes_its_outputs():
    output = OutputFactory()
    output.item.delete()
    assert not Output.objects.filter(pk=output.pk).exists()
