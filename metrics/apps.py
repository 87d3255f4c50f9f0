from django.apps import AppConfig
from django.conf import settings


class MetricsConfig(AppConfig):
    name = "metrics"
    verbose_name = "Metrics and reports"

    def ready(self) -> None:
        custom_metrics_register()
        lm_model_register()


def lm_model_register() -> None:
    """Point lm_perplexity at settings.EVAL_LM_MODEL (a model folder or .gguf file), if set.

    Unset, nothing is imported here: the metric library (scikit-learn, nltk, ...) would add a
    second and ~90 MB to every process start, imports included.
    """
    model = getattr(settings, "EVAL_LM_MODEL", "")
    if not model:
        return
    from metrics.compute.automatic.lm import lm_model_configure

    lm_model_configure(model)


def custom_metrics_register() -> list[str]:
    """Register the metrics named in settings.EVAL_CUSTOM_METRICS; returns their names."""
    paths = list(getattr(settings, "EVAL_CUSTOM_METRICS", []))
    if not paths:
        return []
    from metrics.compute.automatic import REGISTRY, custom_metrics_load

    new = [p for p in paths if p not in _LOADED]
    specs = custom_metrics_load(new, registry=REGISTRY)
    _LOADED.update(new)
    return [spec.name for spec in specs]


_LOADED: set[str] = set()
