"""The production profile passes Django's deployment checklist; weak keys and DEBUG in production are refused."""

from __future__ import annotations

import os
import secrets
import stat

import pytest

from tests.prod.conftest import manage

# Subprocesses on their own SQLite data dirs: nothing here depends on DATABASE_URL, so the PostgreSQL leg
# of `make test` deselects them instead of running them twice.
pytestmark = pytest.mark.db_independent
PRODUCTION = {
    "HTC_PRODUCTION": "1",
    "HTC_ALLOWED_HOSTS": "htc.example.org",
    "HTC_CSRF_TRUSTED_ORIGINS": "https://htc.example.org",
}
SHOW = (
    "from django.conf import settings as s; "
    "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, s.X_FRAME_OPTIONS, "
    "s.SECURE_PROXY_SSL_HEADER, s.ALLOWED_HOSTS, s.CSRF_TRUSTED_ORIGINS, len(s.SECRET_KEY))"
)


def test_check_deploy_passes_at_warning_level_with_the_production_environment(tmp_path):
    done = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION, data_dir=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_check_deploy_fails_without_the_production_profile(tmp_path):
    # The same check must be able to fail: without HTC_PRODUCTION cookies are not Secure and there is no HSTS.
    done = manage("check", "--deploy", "--fail-level", "WARNING", data_dir=tmp_path)
    assert done.returncode != 0
    assert "security.W004" in done.stderr + done.stdout
    assert "security.W012" in done.stderr + done.stdout


def test_production_profile_turns_on_secure_transport_settings(tmp_path):
    done = manage("shell", "-c", SHOW, env=PRODUCTION, data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    out = done.stdout.strip().splitlines()[-1]
    assert out.startswith("False True True 31536000 DENY ('HTTP_X_FORWARDED_PROTO', 'https')")
    assert "['htc.example.org'] ['https://htc.example.org']" in out


def test_debug_is_off_by_default_and_the_key_is_generated_per_install(tmp_path):
    first = manage("shell", "-c", SHOW, data_dir=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().splitlines()[-1].startswith("False False False")
    key_file = tmp_path / "secret_key"
    key = key_file.read_text().strip()
    assert len(key) >= 50 and not key.startswith("django-insecure-")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    other = tmp_path / "other"
    other.mkdir()
    manage("shell", "-c", SHOW, data_dir=other)
    assert (other / "secret_key").read_text().strip() != key  # never a shared default


@pytest.mark.parametrize(
    "key",
    ["short-key", "django-insecure-" + secrets.token_urlsafe(48), "ab" * 40],
    ids=["too-short", "django-insecure-prefix", "too-few-distinct-characters"],
)
def test_a_weak_secret_key_is_refused_with_debug_off(tmp_path, key):
    done = manage("check", env={"HTC_SECRET_KEY": key}, data_dir=tmp_path)
    assert done.returncode != 0
    assert "Refusing to start: the secret key from HTC_SECRET_KEY is too weak" in done.stderr


def test_a_weak_key_is_tolerated_only_in_debug_mode(tmp_path):
    done = manage("check", env={"HTC_SECRET_KEY": "short-key", "HTC_DEBUG": "1"}, data_dir=tmp_path)
    assert done.returncode == 0, done.stderr


def test_a_strong_secret_key_from_the_environment_is_used(tmp_path):
    key = secrets.token_urlsafe(64)
    done = manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SECRET_KEY)",
        env={"HTC_SECRET_KEY": key},
        data_dir=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == key
    assert not (tmp_path / "secret_key").exists()


def test_debug_is_refused_in_production(tmp_path):
    done = manage("check", env={**PRODUCTION, "HTC_DEBUG": "1"}, data_dir=tmp_path)
    assert done.returncode != 0
    assert "HTC_DEBUG must be off when HTC_PRODUCTION=1" in done.stderr


def test_collectstatic_writes_to_the_static_root_outside_the_data_dir(tmp_path):
    data, static = tmp_path / "data", tmp_path / "static"
    data.mkdir()
    done = manage("collectstatic", "--noinput", env={**PRODUCTION, "HTC_STATIC_ROOT": str(static)}, data_dir=data)
    assert done.returncode == 0, done.stderr
    assert (static / "htc" / "htc.js").is_file()
    assert not (data / "static").exists()


def test_gunicorn_loads_the_app_with_the_sample_config(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HTC_", "DJANGO_"))}
    env.update({**PRODUCTION, "HTC_DATA_DIR": str(tmp_path), "DATABASE_URL": "", "REDIS_URL": ""})
    gunicorn = Path(sys.executable).with_name("gunicorn")
    done = subprocess.run(
        [str(gunicorn), "--check-config", "-c", "deploy/gunicorn.conf.py", "htc_app.wsgi"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
