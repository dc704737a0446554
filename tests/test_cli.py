"""The command line: usage errors are argparse messages checked before any work, never
tracebacks; `--version`; help for every option."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

import cubie_trace as ct
from cubie_trace import cli
from lowering.targets import default_target


def usage_error(capsys: pytest.CaptureFixture, *argv: str) -> str:
    with pytest.raises(SystemExit) as stop:
        cli.main(list(argv))
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_an_unknown_method_is_a_usage_error(capsys: pytest.CaptureFixture) -> None:
    err = usage_error(capsys, "layout", "foo")
    assert "unknown method 'foo'" in err and "tsit5" in err


def test_a_missing_output_folder_is_refused_before_any_work(
        capsys: pytest.CaptureFixture, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    def no_work(*args: object) -> int:
        raise AssertionError("the demo ran")

    monkeypatch.setattr(cli, "demo", no_work)
    err = usage_error(capsys, "demo", "--out-dir", str(tmp_path / "missing"))
    assert "no such folder" in err


@pytest.mark.skipif(default_target() == "cuda", reason="a GPU is present")
def test_cuda_without_a_gpu_is_a_usage_error(capsys: pytest.CaptureFixture) -> None:
    assert "no CUDA GPU" in usage_error(capsys, "demo", "--backend", "cuda")


@pytest.mark.parametrize("argv", [("demo", "--runs", "0"), ("demo", "--runs", "many"),
                                  ("layout", "tsit5", "--states", "-2")])
def test_counts_must_be_positive_integers(capsys: pytest.CaptureFixture,
                                          argv: tuple[str, ...]) -> None:
    usage_error(capsys, *argv)


def test_version(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as stop:
        cli.main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"cubie-trace {ct.__version__}"


def test_every_option_has_help() -> None:
    top = cli.parser()
    subparsers = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subparsers.choices.items():
        for action in sub._actions:
            assert action.help, f"{name} {action.dest} has no help"


def test_the_layout_report_writes_its_chart(capsys: pytest.CaptureFixture,
                                            tmp_path: Path) -> None:
    assert cli.main(["layout", "bs32", "--states", "2", "--out-dir", str(tmp_path)]) == 0
    assert (tmp_path / "layout_bs32.png").stat().st_size > 0
    assert "bs32 step on a 2-state linear chain" in capsys.readouterr().out
