"""Catalog-wide rules: unique display names, and cyber-dojo's served-name rule."""

from __future__ import annotations

from typing import Any

from startpoints.core import catalog


def entry(file: str, **manifest: Any) -> catalog.Entry:
    return catalog.Entry(file, manifest, source=f"src-{file}")


def test_unique_display_names_pass() -> None:
    assert catalog.problems([entry("a", display_name="A"), entry("b", display_name="B")]) == []


def test_duplicate_display_names_are_listed_with_every_source() -> None:
    problems = catalog.problems(
        [entry("a", display_name="X"), entry("b", display_name="Y"), entry("c", display_name="X")]
    )
    assert [p.file for p in problems] == ["a", "c"]
    assert "src-a (a), src-c (c)" in str(problems[0])
    assert str(problems[0]).startswith('src-a: a: display_name="X": is not unique in the catalog')


def test_served_names_use_language_and_framework_when_all_have_them_uniquely() -> None:
    java = {
        "display_name": "Java 25, JUnit 6",
        "language": ["Java", "25"],
        "test_framework": ["JUnit", "6"],
    }
    python = {
        "display_name": "Python 3, pytest 8",
        "language": ["Python", "3"],
        "test_framework": ["pytest", "8"],
    }
    assert catalog.served_names([java, python]) == ["Java, JUnit", "Python, pytest"]


def test_served_names_fall_back_to_display_names() -> None:
    java = {
        "display_name": "Java 25, JUnit 6",
        "language": ["Java", "25"],
        "test_framework": ["JUnit", "6"],
    }
    java17 = {
        "display_name": "Java 17, JUnit 5",
        "language": ["Java", "17"],
        "test_framework": ["JUnit", "5"],
    }
    plain = {"display_name": "Bash, bats"}
    assert catalog.served_names([java, plain]) == ["Java 25, JUnit 6", "Bash, bats"]
    assert catalog.served_names([java, java17]) == ["Java 25, JUnit 6", "Java 17, JUnit 5"]
