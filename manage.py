#!/usr/bin/env python
import os
import secrets
import sys

# Commands that read the code and the migrations and sign nothing: without a configured key they
# run on a random one that lives only in this process (never written, never the same twice), so
# `manage.py makemigrations --check` works on a fresh clone. Every other command, and every
# server, still refuses a missing SECRET_KEY (config/settings.py).
KEYLESS_COMMANDS = frozenset({"makemigrations", "check", "showmigrations", "sqlmigrate"})


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command in KEYLESS_COMMANDS and not (
        os.environ.get("SECRET_KEY") or os.environ.get("SECRET_KEY_FILE")
    ):
        os.environ["SECRET_KEY"] = secrets.token_urlsafe(50)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
