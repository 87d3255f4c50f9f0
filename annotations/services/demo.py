"""A realistic demo campaign built through the same import services a user would call."""

from __future__ import annotations

import io
import json
import secrets
from dataclasses import dataclass

import numpy as np
from django.contrib.auth import get_user_model
from django.db import transaction

from annotations.models import Campaign, CampaignMembership

from .campaigns import membership_add
from .imports import campaign_import, ratings_import
from .qc import qc_degraded_create, qc_repeats_create

DEMO_SLUG = "demo"
PAIRWISE_SLUG = "demo-pairwise"
# Quality control in the demo: a few degraded copies and repeats mixed into raters' streams.
DEMO_QC = {"degraded_rate": 0.1, "repeat_rate": 0.05}

# (topic, question, reference answer, a plausible wrong detail)
FACTS = [
    ("refunds", "How long do I have to return an item for a refund?",
     "You can return most items within 30 days of delivery for a full refund.", "14 days"),
    ("shipping", "Do you ship to Canada?",
     "Yes, we ship to Canada; delivery usually takes 5 to 8 business days.", "2 weeks"),
    ("password", "How do I reset my password?",
     "Click 'Forgot password' on the login page and follow the link we email you.",
     "call support"),
    ("warranty", "What does the warranty cover?",
     "The two-year warranty covers manufacturing defects but not accidental damage.",
     "accidental damage"),
    ("billing", "Why was I charged twice?",
     "A second charge is usually a temporary authorisation that disappears within 3 days.",
     "a subscription fee"),
    ("cancel", "How can I cancel my subscription?",
     "Go to Account, then Subscription, and choose Cancel; you keep access until the period ends.",
     "lose access at once"),
    ("privacy", "Do you sell my personal data?",
     "No. We never sell personal data; we share it only with processors that run the service.",
     "sometimes"),
    ("battery", "How long does the battery last?",
     "A full charge lasts about 10 hours of typical use and charges fully in 2 hours.",
     "3 hours"),
    ("install", "Which operating systems does the app support?",
     "The app runs on Windows 10 or later, macOS 12 or later and recent Linux distributions.",
     "Windows only"),
    ("export", "Can I export my data as CSV?",
     "Yes. Open Settings, then Data, and choose Export as CSV.", "only as PDF"),
    ("team", "How many people can join a team plan?",
     "A team plan includes up to 25 members; larger teams can ask for an enterprise plan.",
     "5 members"),
    ("offline", "Does the app work offline?",
     "Yes, you can work offline; changes sync automatically when you reconnect.",
     "it needs a connection"),
    ("languages", "Which languages does support answer in?",
     "Support answers in English, German, French and Spanish, around the clock.", "English only"),
    ("gift", "Can I pay with a gift card?",
     "Gift cards can pay for any order and can be combined with one other payment method.",
     "not combined"),
    ("size", "How do I choose the right size?",
     "Measure your chest and compare it with the size chart on each product page.",
     "always order one size up"),
    ("student", "Is there a student discount?",
     "Students get 20 percent off with a valid university email address.", "50 percent"),
]
PHRASINGS = ["{q}", "Quick question: {q}", "Hi, {q_lower} Thanks!"]
RATERS = ["rater1", "rater2", "rater3"]
SYSTEM_QUALITY = {"baseline": 0.0, "ft-v1": 0.6, "ft-v2": 1.1}


@dataclass(frozen=True)
class DemoAccounts:
    admin: tuple[str, str]
    raters: list[tuple[str, str]]
    campaign: Campaign
    pairwise: Campaign


def _answer(system: str, fact: tuple[str, str, str, str], rng: np.random.Generator) -> str:
    topic, _question, reference, wrong = fact
    if system == "baseline":
        if rng.random() < 0.5:
            return f"Thank you for your question about {topic}. Please check our help center " \
                   f"for details, it is probably {wrong}."
        return f"I think {wrong}. Let me know if you need anything else."
    if system == "ft-v1":
        if rng.random() < 0.25:
            return f"{reference.split(';')[0].rstrip('.')}, but sometimes {wrong}."
        return reference.replace(", ", " , ", 1) if rng.random() < 0.3 else reference
    return f"{reference} Is there anything else I can help you with?" \
        if rng.random() < 0.4 else reference


def _bundle(rng: np.random.Generator) -> tuple[bytes, bytes]:
    spec = {
        "name": "Support assistant: fine-tune vs baseline",
        "slug": DEMO_SLUG,
        "kind": "rating",
        "instructions": "Read the customer's message and the assistant's answer. Rate fluency, "
                        "relevance and accuracy against the reference, then how satisfied the "
                        "customer would be.",
        "overlap": 3,
        "baseline": "baseline",
        "criteria": [
            {"key": "fluency", "label": "Fluency", "min": 1, "max": 5, "level": "ordinal",
             "labels": {"1": "incomprehensible", "3": "understandable", "5": "native"}},
            {"key": "relevance", "label": "Relevance", "min": 1, "max": 5, "level": "ordinal",
             "labels": {"1": "off-topic", "5": "fully on point"}},
            {"key": "accuracy", "label": "Accuracy", "min": 1, "max": 5, "level": "ordinal",
             "labels": {"1": "wrong", "5": "fully correct"}},
            {"key": "satisfaction", "label": "User satisfaction", "min": 1, "max": 5,
             "level": "ordinal", "labels": {"1": "very unhappy", "5": "delighted"}},
        ],
        "metrics": ["bleu", "chrf", "rougeL"],
        "systems": [
            {"name": "baseline", "attributes": {"model": "base-7b"}},
            {"name": "ft-v1", "attributes": {"lr": "2e-5", "data": "v1"}, "training_time_s": 5400},
            {"name": "ft-v2", "attributes": {"lr": "1e-5", "data": "v2"}, "training_time_s": 7200},
        ],
    }
    lines = []
    for index, fact in enumerate(FACTS * len(PHRASINGS)):
        phrasing = PHRASINGS[index // len(FACTS)]
        question = fact[1]
        prompt = phrasing.format(q=question, q_lower=question[0].lower() + question[1:])
        for system in SYSTEM_QUALITY:
            lines.append(json.dumps({
                "item_id": f"q{index + 1:02d}", "input": prompt, "references": [fact[2]],
                "system": system, "output": _answer(system, fact, rng),
                "latency_ms": round(float(rng.uniform(180, 900)), 1),
                "tokens": int(rng.integers(12, 60)), "group": fact[0],
            }))
    return json.dumps(spec, indent=2).encode(), ("\n".join(lines) + "\n").encode()


def _pairwise_spec(spec: bytes) -> bytes:
    """The demo's spec as a pairwise campaign: the same outputs, judged two at a time."""
    pairwise = json.loads(spec)
    pairwise.update({
        "name": "Support assistant: which answer is better?", "slug": PAIRWISE_SLUG,
        "kind": "pairwise", "overlap": 2, "metrics": [],
        "instructions": "Read the customer's message and the two answers. Pick the better one "
                        "overall (or a tie), and if you like, which is better on each criterion.",
    })
    return json.dumps(pairwise, indent=2).encode()


def _judgments(rng: np.random.Generator, rated_items: int) -> bytes:
    rows = []
    bias = {r: float(rng.normal(0, 0.35)) for r in RATERS}
    for index in range(rated_items):
        item_effect = float(rng.normal(0, 0.5))
        for system, quality in SYSTEM_QUALITY.items():
            for rater in RATERS:
                for criterion, base in (("fluency", 3.6), ("relevance", 3.2), ("accuracy", 2.9),
                                        ("satisfaction", 3.0)):
                    latent = base + quality + item_effect + bias[rater] + rng.normal(0, 0.6)
                    rows.append(json.dumps({
                        "item_id": f"q{index + 1:02d}", "system": system, "rater": rater,
                        "criterion": criterion, "value": int(np.clip(np.rint(latent), 1, 5)),
                    }))
    return ("\n".join(rows) + "\n").encode()


@transaction.atomic
def demo_seed(*, seed: int = 7, rated_items: int = 30) -> DemoAccounts:
    """Create (once) the demo campaign, its admin and raters; reset and return their logins."""
    user_model = get_user_model()
    admin, _ = user_model.objects.get_or_create(username="demo-admin",
                                                defaults={"email": "admin@example.org"})
    admin.is_staff = admin.is_superuser = True
    admin_password = secrets.token_urlsafe(9)
    admin.set_password(admin_password)
    admin.save()
    rng = np.random.default_rng(seed)
    campaign = Campaign.objects.filter(slug=DEMO_SLUG).first()
    if campaign is None:
        spec, outputs = _bundle(rng)
        result = campaign_import(spec_stream=io.BytesIO(spec), spec_name="demo-spec.json",
                                 outputs_stream=io.BytesIO(outputs),
                                 outputs_name="demo-outputs.jsonl", created_by=admin)
        campaign = result.campaign
        campaign.status = Campaign.Status.ACTIVE
        campaign.save(update_fields=["status", "updated_at"])
        ratings_import(campaign=campaign, stream=io.BytesIO(_judgments(rng, rated_items)),
                       name="demo-judgments.jsonl")
        # Automatic metrics for the demo report: on Celery when a broker is configured,
        # otherwise in-process once this transaction commits.
        from metrics.services.runs import metric_run_start

        metric_run_start(campaign=campaign, created_by=admin)
        qc_degraded_create(campaign=campaign, count=6, seed=seed, by=admin)
        qc_repeats_create(campaign=campaign, count=3, seed=seed, by=admin)
        campaign.options = {**campaign.options, "qc": DEMO_QC}
        campaign.save(update_fields=["options", "updated_at"])
    pairwise = Campaign.objects.filter(slug=PAIRWISE_SLUG).first()
    if pairwise is None:
        spec, outputs = _bundle(np.random.default_rng(seed))
        pairwise = campaign_import(
            spec_stream=io.BytesIO(_pairwise_spec(spec)), spec_name="demo-pairwise-spec.json",
            outputs_stream=io.BytesIO(outputs), outputs_name="demo-outputs.jsonl",
            created_by=admin).campaign
        pairwise.status = Campaign.Status.ACTIVE
        pairwise.save(update_fields=["status", "updated_at"])
    raters = []
    for username in RATERS:
        user, _ = user_model.objects.get_or_create(username=username)
        password = secrets.token_urlsafe(9)
        user.set_password(password)
        user.save()
        for joined in (campaign, pairwise):
            membership_add(campaign=joined, user=user, role=CampaignMembership.Role.RATER)
        raters.append((username, password))
    return DemoAccounts(admin=("demo-admin", admin_password), raters=raters, campaign=campaign,
                        pairwise=pairwise)
