"""The email/SES settings at start-up: short backend names, SES without a region refused, the
anymail parameters from AWS_REGION/AWS_ENDPOINT_URL, a negative send rate refused (the real
settings in a fresh process, as tests/config/test_settings.py does)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.config.test_settings import A_KEY, PRINT, refused, start


def run(tmp_path: Path, code: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    return start(tmp_path, code, SECRET_KEY=A_KEY, **env)


def test_ses_is_a_short_name_for_anymails_backend_with_the_aws_settings(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        PRINT.format(expr="s.EMAIL_BACKEND, s.ANYMAIL, s.MIM_SES_SEND_RATE"),
        EMAIL_BACKEND="ses",
        AWS_REGION="eu-west-1",
        AWS_ENDPOINT_URL="http://127.0.0.1:5000",
        MIM_SES_SEND_RATE="14",
    )
    assert result.returncode == 0, result.stderr
    assert "anymail.backends.amazon_ses.EmailBackend" in result.stdout
    assert "'region_name': 'eu-west-1', 'endpoint_url': 'http://127.0.0.1:5000'" in result.stdout
    assert "14.0" in result.stdout


def test_smtp_is_a_short_name_and_dotted_paths_still_work(tmp_path: Path) -> None:
    smtp = run(tmp_path, PRINT.format(expr="s.EMAIL_BACKEND"), EMAIL_BACKEND="smtp")
    assert smtp.stdout.strip() == "django.core.mail.backends.smtp.EmailBackend"
    dotted = run(
        tmp_path,
        PRINT.format(expr="s.EMAIL_BACKEND"),
        EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend",
    )
    assert dotted.stdout.strip() == "django.core.mail.backends.console.EmailBackend"


def test_ses_without_a_region_is_refused(tmp_path: Path) -> None:
    assert refused(run(tmp_path, EMAIL_BACKEND="ses"), "EMAIL_BACKEND=ses", "AWS_REGION")


def test_a_negative_send_rate_is_refused(tmp_path: Path) -> None:
    assert refused(run(tmp_path, MIM_SES_SEND_RATE="-1"), "MIM_SES_SEND_RATE")
