"""Staff pages (included by annotations/urls.py under the annotations namespace)."""

urlpatterns: list = []
