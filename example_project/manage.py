#!/usr/bin/env python
"""Run the example project's management commands (``python manage.py demo`` starts it)."""

import os
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example.settings")
    if sys.argv[1:2] == ["demo"]:
        os.environ.setdefault("DJANGO_DEBUG", "1")  # API.md: debug pages for the demo only
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
