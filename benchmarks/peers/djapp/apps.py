from django.apps import AppConfig


class BenchConfig(AppConfig):
    name = "benchmarks.peers.djapp"
    label = "djapp"
    default_auto_field = "django.db.models.AutoField"
