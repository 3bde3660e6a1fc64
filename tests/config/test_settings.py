"""Start-up refuses what would be unsafe; each case starts the real settings in a fresh process
with an environment made here (nothing inherited from the test run but PATH)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
A_KEY = "k" * 64  # long enough for HS256; random keys are tested below
PRINT = "from django.conf import settings as s; print({expr})"


def start(
    tmp_path: Path, code: str = "", *, setup: bool = False, **env: str | None
) -> subprocess.CompletedProcess[str]:
    """Load config.settings (and with ``setup``, the apps), then run ``code``, in a new process."""
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "MIM_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CACHE_URL": "locmemcache://",
        "CELERY_BROKER_URL": "memory://",
    }
    environment.update({k: v for k, v in env.items() if v is not None})
    load = (
        "import django; django.setup()"
        if setup
        else "from django.conf import settings; settings.DEBUG"
    )
    for name in [k for k, v in env.items() if v is None]:
        environment.pop(name, None)
    return subprocess.run(
        [sys.executable, "-c", f"{load}; {code}"],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def refused(result: subprocess.CompletedProcess[str], *words: str) -> bool:
    return (
        result.returncode != 0
        and "ImproperlyConfigured" in result.stderr
        and all(word in result.stderr.splitlines()[-1] for word in words)
    )


def out(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


# --- SECRET_KEY ---------------------------------------------------------------------------------


@pytest.mark.parametrize("debug", [None, "false", "0"], ids=["DEBUG unset", "false", "0"])
def test_start_up_refuses_a_missing_secret_key_outside_debug(tmp_path, debug):
    result = start(tmp_path, DEBUG=debug)
    assert refused(result, "SECRET_KEY"), result.stderr
    assert not (tmp_path / "var" / "secret_key").exists()


@pytest.mark.parametrize("how", ["empty SECRET_KEY", "blank SECRET_KEY", "empty file"])
def test_start_up_refuses_an_empty_secret_key(tmp_path, how):
    key_file = tmp_path / "secret"
    key_file.write_text("\n")
    env = {
        "empty SECRET_KEY": {"SECRET_KEY": ""},
        "blank SECRET_KEY": {"SECRET_KEY": "  "},
        "empty file": {"SECRET_KEY_FILE": str(key_file)},
    }[how]
    assert refused(start(tmp_path, DEBUG="false", **env), "SECRET_KEY")


def test_start_up_names_a_secret_key_file_it_cannot_read(tmp_path):
    result = start(tmp_path, SECRET_KEY_FILE=str(tmp_path / "missing"))
    assert refused(result, "SECRET_KEY_FILE", "missing"), result.stderr


def test_secret_key_from_the_environment_or_a_file(tmp_path):
    assert out(start(tmp_path, PRINT.format(expr="s.SECRET_KEY"), SECRET_KEY=A_KEY)) == A_KEY
    key_file = tmp_path / "secret"
    key_file.write_text("f" * 64 + "\n")
    result = start(tmp_path, PRINT.format(expr="s.SECRET_KEY"), SECRET_KEY_FILE=str(key_file))
    assert out(result) == "f" * 64


def test_jwt_signing_key_is_the_secret_key_unless_set(tmp_path):
    code = PRINT.format(expr="s.JWT_SIGNING_KEY")
    assert out(start(tmp_path, code, SECRET_KEY=A_KEY)) == A_KEY
    assert out(start(tmp_path, code, SECRET_KEY=A_KEY, JWT_SIGNING_KEY="j" * 32)) == "j" * 32


@pytest.mark.parametrize(
    "env",
    [{"SECRET_KEY": "short"}, {"SECRET_KEY": A_KEY, "JWT_SIGNING_KEY": "j" * 31}],
    ids=["short SECRET_KEY", "short JWT_SIGNING_KEY"],
)
def test_start_up_refuses_a_signing_key_shorter_than_32_bytes(tmp_path, env):
    assert refused(start(tmp_path, **env), "JWT_SIGNING_KEY", "32")


def test_debug_without_a_key_generates_one_into_var_once(tmp_path):
    code = PRINT.format(expr="s.SECRET_KEY")
    first = out(start(tmp_path, code, DEBUG="true"))
    key_file = tmp_path / "var" / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().strip() == first
    assert len(first) >= 64
    assert out(start(tmp_path, code, DEBUG="true")) == first  # kept across restarts
    other = tmp_path / "other"
    other.mkdir()
    assert out(start(other, code, DEBUG="true")) != first  # random, not a value in the code


def test_concurrent_first_starts_agree_on_one_key(tmp_path):
    script = "import sys; from pathlib import Path; from config import keyfile; "
    script += "print(keyfile.ensure(Path(sys.argv[1])))"
    path = tmp_path / "var" / "secret_key"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(path)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    keys = {proc.communicate(timeout=60)[0].strip() for proc in procs}
    assert keys == {path.read_text().strip()}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["secret_key"]  # no temporary left


def test_make_run_generates_a_key_into_var_and_uses_it(tmp_path):
    """`make migrate`/`seed`/`run` (DEBUG=false) on a fresh checkout: a key generated into
    MIM_VAR_DIR, mode 600, read by the commands through SECRET_KEY_FILE."""
    seen = tmp_path / "seen"
    # Stands in for the venv's python: runs the key-file script for real, and for any other
    # command (manage.py migrate, seed_demo, run.sh's processes) records what it was given.
    fake_python = tmp_path / "python"
    fake_python.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = config/keyfile.py ]; then exec {sys.executable} "$@"; fi\n'
        f'echo "$* SECRET_KEY_FILE=$SECRET_KEY_FILE" >> {seen}\n'
    )
    fake_python.chmod(0o700)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "MIM_VAR_DIR": str(tmp_path / "var"),
        "HOME": str(tmp_path),
    }
    for _ in range(2):
        # -o: the venv counts as installed (no pip run); PY: the stand-in above.
        subprocess.run(
            ["make", "-s", "-o", ".venv/.installed", "seed", f"PY={fake_python}"],
            cwd=REPO,
            env=env,
            check=True,
            timeout=60,
            capture_output=True,
        )
    key_file = tmp_path / "var" / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    lines = seen.read_text().splitlines()
    assert lines[:2] == [
        f"manage.py migrate --noinput SECRET_KEY_FILE={key_file}",
        f"manage.py seed_demo SECRET_KEY_FILE={key_file}",
    ]
    assert len(set(lines)) == 2  # the second round used the same file
    result = start(tmp_path, PRINT.format(expr="s.SECRET_KEY"), SECRET_KEY_FILE=str(key_file))
    assert out(result) == key_file.read_text().strip()


def test_make_keeps_a_secret_key_the_environment_brings(tmp_path):
    seen = tmp_path / "seen"
    fake_python = tmp_path / "python"
    fake_python.write_text(f'#!/bin/sh\necho "$* [$SECRET_KEY_FILE]" >> {seen}\n')
    fake_python.chmod(0o700)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "MIM_VAR_DIR": str(tmp_path / "var"),
        "SECRET_KEY": A_KEY,
    }
    subprocess.run(
        ["make", "-s", "-o", ".venv/.installed", "migrate", f"PY={fake_python}"],
        cwd=REPO,
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
    )
    assert seen.read_text().splitlines() == ["manage.py migrate --noinput []"]
    assert not (tmp_path / "var" / "secret_key").exists()


# --- an IdP -------------------------------------------------------------------------------------

IDP = "https://idp.example.test/.well-known/jwks.json"


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({}, ["JWT_AUDIENCE", "JWT_ISSUER"]),
        ({"JWT_AUDIENCE": "mimdesk"}, ["JWT_ISSUER"]),
        ({"JWT_ISSUER": "https://idp.example.test/"}, ["JWT_AUDIENCE"]),
    ],
    ids=["neither", "no issuer", "no audience"],
)
def test_jwks_url_requires_audience_and_issuer(tmp_path, env, missing):
    result = start(tmp_path, SECRET_KEY=A_KEY, JWT_JWKS_URL=IDP, **env)
    assert refused(result, "JWT_JWKS_URL", *missing), result.stderr


def test_jwks_url_with_audience_and_issuer_starts(tmp_path):
    result = start(
        tmp_path,
        PRINT.format(expr="s.JWT_ALGORITHM"),
        SECRET_KEY=A_KEY,
        JWT_JWKS_URL=IDP,
        JWT_AUDIENCE="mimdesk",
        JWT_ISSUER="https://idp.example.test/",
    )
    assert out(result) == "RS256"


@pytest.mark.parametrize(
    ("url", "debug", "ok"),
    [
        ("http://idp.example.test/jwks.json", "false", False),
        ("http://127.0.0.1:8080/jwks.json", "true", True),
        ("file:///etc/passwd", "true", False),
    ],
)
def test_jwks_url_must_be_https_outside_debug(tmp_path, url, debug, ok):
    result = start(
        tmp_path,
        SECRET_KEY=A_KEY,
        DEBUG=debug,
        JWT_JWKS_URL=url,
        JWT_AUDIENCE="mimdesk",
        JWT_ISSUER="https://idp.example.test/",
    )
    assert (result.returncode == 0) is ok, result.stderr
    if not ok:
        assert refused(result, "JWT_JWKS_URL", "https")


def test_a_throttle_rate_typo_stops_start_up(tmp_path):
    result = start(tmp_path, SECRET_KEY=A_KEY, TOKEN_THROTTLE_PER_USER="10/minnute")
    assert refused(result, "TOKEN_THROTTLE_PER_USER", "10/minnute"), result.stderr


# --- one cache, two instances -------------------------------------------------------------------


def test_two_instances_on_one_cache_never_read_each_others_system_properties(tmp_path):
    """A property cached by the instance on database A is not what the one on B reads; another
    process of A reads it (the prefix is stable, the cache really is shared)."""
    shared = f"filecache://{tmp_path / 'shared-cache'}"
    key = "from incidents.selectors.properties import PROPERTY_CACHE_KEY as K; "
    key += "from django.core.cache import cache; k = K.format('auto_declare_mode'); "
    a = {"SECRET_KEY": A_KEY, "CACHE_URL": shared, "DATABASE_URL": f"sqlite:///{tmp_path}/a.db"}
    b = {**a, "DATABASE_URL": f"sqlite:///{tmp_path}/b.db"}
    out(start(tmp_path, key + "cache.set(k, 'off-in-A', 300)", setup=True, **a))
    assert out(start(tmp_path, key + "print(cache.get(k))", setup=True, **a)) == "off-in-A"
    assert out(start(tmp_path, key + "print(cache.get(k))", setup=True, **b)) == "None"
    pg = {**a, "DATABASE_URL": "postgres://u@db.example.test:5432/a.db"}
    assert out(start(tmp_path, key + "print(cache.get(k))", setup=True, **pg)) == "None"


def test_cache_key_prefix_names_the_database(tmp_path):
    code = PRINT.format(expr="s.CACHES['default']['KEY_PREFIX']")
    prod = out(start(tmp_path, code, SECRET_KEY=A_KEY, DATABASE_URL="postgres://h/mimdesk"))
    staging = out(start(tmp_path, code, SECRET_KEY=A_KEY, DATABASE_URL="postgres://h/staging"))
    assert prod.startswith("mimdesk-")
    assert staging.startswith("staging-")
    assert prod != staging
    explicit = "locmemcache://?key_prefix=mine"
    assert out(start(tmp_path, code, SECRET_KEY=A_KEY, CACHE_URL=explicit)) == "mine"


def manage(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``manage.py args`` in a new process with no SECRET_KEY and DEBUG off."""
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "MIM_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CACHE_URL": "locmemcache://",
        "CELERY_BROKER_URL": "memory://",
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_makemigrations_check_runs_without_a_configured_key(tmp_path: Path) -> None:
    result = manage(tmp_path, "makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "No changes detected" in result.stdout
    assert not (tmp_path / "var" / "secret_key").exists()  # the key lived in that process only


def test_other_commands_still_refuse_a_missing_key(tmp_path: Path) -> None:
    result = manage(tmp_path, "migrate", "--noinput")
    assert refused(result, "SECRET_KEY")
    assert not (tmp_path / "db.sqlite3").exists()
