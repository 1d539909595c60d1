"""``bench.report.write_result``: the one way every benchmark leaves its result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.report import write_result


def _markdown(result: dict[str, Any]) -> str:
    return f"# Målt / measured: {result['seconds']} s\n"


def test_writes_the_json_then_the_markdown_under_the_date_and_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = {"seconds": 1.5, "note": "ærlig × 2"}
    stem = write_result(result, "demo-scale2", _markdown, folder=tmp_path / "new")
    assert stem.parent == tmp_path / "new"
    assert stem.name.endswith("-demo-scale2")
    assert json.loads(stem.with_name(f"{stem.name}.json").read_text("utf-8")) == result
    text = stem.with_name(f"{stem.name}.json").read_text("utf-8")
    assert "ærlig × 2" in text and text.endswith("}\n")
    assert stem.with_name(f"{stem.name}.md").read_text("utf-8") == _markdown(result)
    assert capsys.readouterr().out == _markdown(result)


def test_keep_earlier_leaves_the_days_first_result_and_adds_the_time(tmp_path: Path) -> None:
    first = write_result({"seconds": 1}, "loadtest", _markdown, folder=tmp_path, echo=False)
    second = write_result(
        {"seconds": 2}, "loadtest", _markdown, folder=tmp_path, keep_earlier=True, echo=False
    )
    assert second.name.startswith(first.name + "-") and len(second.name) == len(first.name) + 5
    assert "1 s" in first.with_name(f"{first.name}.md").read_text("utf-8")
    assert "2 s" in second.with_name(f"{second.name}.md").read_text("utf-8")
    again = write_result({"seconds": 3}, "loadtest", _markdown, folder=tmp_path, echo=False)
    assert again == first and "3 s" in first.with_name(f"{first.name}.md").read_text("utf-8")


def test_a_failing_report_still_leaves_the_numbers(tmp_path: Path) -> None:
    def broken(result: dict[str, Any]) -> str:
        raise KeyError("missing")

    with pytest.raises(KeyError):
        write_result({"seconds": 9}, "canned", broken, folder=tmp_path)
    (written,) = tmp_path.glob("*-canned.json")
    assert json.loads(written.read_text("utf-8")) == {"seconds": 9}
    assert not list(tmp_path.glob("*.md"))
