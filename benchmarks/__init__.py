"""Benchmarks of django-mfa-enroll: ``python benchmarks/run.py --help``. Not part of the package."""
