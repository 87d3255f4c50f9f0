"""factory_boy factories for the annotations models."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from annotations.models import (
    Campaign,
    CampaignMembership,
    Criterion,
    Item,
    Output,
    Rating,
    RatingValue,
    System,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-for-tests")


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"Campaign {n}")
    slug = factory.Sequence(lambda n: f"campaign-{n}")
    overlap = 3


class CriterionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Criterion

    campaign = factory.SubFactory(CampaignFactory)
    key = factory.Sequence(lambda n: f"criterion{n}")
    label = factory.LazyAttribute(lambda c: c.key.title())
    scale_min = 1
    scale_max = 5
    level = Criterion.Level.ORDINAL


class SystemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = System

    campaign = factory.SubFactory(CampaignFactory)
    name = factory.Sequence(lambda n: f"system{n}")


class ItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Item

    campaign = factory.SubFactory(CampaignFactory)
    external_id = factory.Sequence(lambda n: f"item{n}")
    input = "What is the answer?"
    references = factory.LazyFunction(lambda: ["the answer"])


class OutputFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Output

    item = factory.SubFactory(ItemFactory)
    system = factory.SubFactory(SystemFactory, campaign=factory.SelfAttribute("..item.campaign"))
    text = "an answer"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CampaignMembership

    campaign = factory.SubFactory(CampaignFactory)
    user = factory.SubFactory(UserFactory)
    role = CampaignMembership.Role.RATER


class RatingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Rating

    rater = factory.SubFactory(UserFactory)
    output = factory.SubFactory(OutputFactory)


class RatingValueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RatingValue

    rating = factory.SubFactory(RatingFactory)
    criterion = factory.SubFactory(CriterionFactory)
    value = 3
