"""Start-up preparation: migrate and collect static files only when something changed (core/startup.py)."""

import os

import pytest

from core import startup


@pytest.fixture
def sources(settings, tmp_path):
    """A static source folder and a collection target of their own."""
    source = tmp_path / "static"
    source.mkdir()
    (source / "app.js").write_text("console.log(1)")
    settings.STATICFILES_DIRS = [source]
    settings.STATIC_ROOT = tmp_path / "collected"
    return source


def collected(settings) -> set[str]:
    return {p.name for p in settings.STATIC_ROOT.rglob("*") if p.is_file()}


def test_the_first_start_collects_and_the_next_does_not(sources, settings):
    assert startup.collect_static_if_changed()
    assert any(name.startswith("app.") and name.endswith(".js") for name in collected(settings))
    assert not startup.collect_static_if_changed()


@pytest.mark.parametrize("change", ["edit", "add", "remove", "touch"])
def test_any_change_to_a_source_collects_again(sources, settings, change):
    startup.collect_static_if_changed()
    if change == "edit":
        (sources / "app.js").write_text("console.log(2)")
    elif change == "add":
        (sources / "more.css").write_text("body{}")
    elif change == "remove":
        (sources / "app.js").unlink()
    else:
        stat = (sources / "app.js").stat()
        os.utime(sources / "app.js", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert startup.collect_static_if_changed()
    assert not startup.collect_static_if_changed()


def test_collectstatic_run_by_hand_counts_as_collected(sources, settings):
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    assert startup.static_is_current()
    assert not startup.collect_static_if_changed()


def test_a_source_edited_while_collecting_is_collected_at_the_next_start(sources, settings, monkeypatch):
    from django.contrib.staticfiles.management.commands import collectstatic

    copy = collectstatic.Command.collect

    def copy_then_edit(self):
        result = copy(self)
        (sources / "app.js").write_text("console.log('edited while collecting')")
        return result

    monkeypatch.setattr(collectstatic.Command, "collect", copy_then_edit)
    assert startup.collect_static_if_changed()
    monkeypatch.setattr(collectstatic.Command, "collect", copy)
    assert not startup.static_is_current()
    assert startup.collect_static_if_changed()


@pytest.mark.django_db
def test_a_migrated_database_is_left_alone(django_assert_max_num_queries):
    assert startup.unapplied_migrations() == []
    with django_assert_max_num_queries(3):
        assert not startup.migrate_if_needed()
