"""``clipzy``: the engine from the command line.

clipzy extract TEMPLATE -o style.json
clipzy apply TEMPLATE FOOTAGE [FOOTAGE ...] -o out.mp4
clipzy apply --style-dna style.json FOOTAGE [FOOTAGE ...] -o out.mp4
clipzy serve [--host H] [--port N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipelines import __version__
from pipelines.errors import ClipzyError
from pipelines.options import JobOptions
from pipelines.runner import JobRequest, ProgressCallback, run_job


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clipzy", description="Extract a template video's Style DNA; render footage in it."
    )
    parser.add_argument("--version", action="version", version=f"clipzy {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log each step (extract and apply are quiet)"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    extract = sub.add_parser("extract", help="write a template's Style DNA as JSON")
    extract.add_argument("template", type=Path)
    extract.add_argument("-o", "--output", type=Path, default=Path("style.json"))

    apply = sub.add_parser("apply", help="render footage in a template's style as an MP4")
    apply.add_argument(
        "inputs",
        type=Path,
        nargs="+",
        help="TEMPLATE FOOTAGE [FOOTAGE ...], or only FOOTAGE with --style-dna",
    )
    apply.add_argument("--style-dna", type=Path, help="a stored Style DNA instead of a template")
    apply.add_argument("-o", "--output", type=Path, default=Path("out.mp4"))
    apply.add_argument("--audio", choices=["template", "footage", "none"], default="template")
    apply.add_argument("--color-strength", type=float, default=1.0)
    apply.add_argument("--no-transitions", action="store_true")
    apply.add_argument("--no-recut", action="store_true", help="keep the footage's own edit")
    apply.add_argument("--max-output-s", type=float)

    serve = sub.add_parser("serve", help="run the REST API with its worker")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    return parser


@contextmanager
def _progress_display() -> Iterator[ProgressCallback | None]:
    """A stage name and a progress bar on a terminal; nothing when output is piped."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description:<10}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task("ingest", total=100)

        def update(stage: str, percent: float) -> None:
            bar.update(task, description=stage, completed=percent)

        yield update
        bar.update(task, description="done", completed=100)


def _run(request: JobRequest, output: Path, result_name: str) -> None:
    with _progress_display() as progress:
        result = run_job(request, on_progress=progress)
    output.parent.mkdir(parents=True, exist_ok=True)
    if result_name == "style":
        shutil.copyfile(result.style_dna_path, output)
        print(f"Style DNA: {output}")
    else:
        assert result.output_path is not None
        shutil.move(str(result.output_path), output)
        dna = output.with_suffix(".style.json")
        shutil.copyfile(result.style_dna_path, dna)
        print(f"Style DNA: {dna}")
        print(f"Video:     {output}")
    print(f"extraction_confidence: {result.style_dna['extraction_confidence']}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from pipelines.settings import get_settings

    try:
        settings = get_settings()
    except ValueError as exc:
        print(f"clipzy: invalid settings: {exc}", file=sys.stderr)
        return 2
    from gateway.logging_config import configure_logging

    if args.command != "serve" and not args.verbose and "CLIPZY_LOG_LEVEL" not in os.environ:
        # A command line tool shows its progress bar and result, not the service's log.
        settings = settings.model_copy(update={"log_level": "WARNING"})
    configure_logging(settings)

    if args.command == "serve":
        import uvicorn

        from gateway.app import create_app

        uvicorn.run(create_app(settings), host=args.host, port=args.port, log_config=None)
        return 0

    if args.command == "apply" and args.output.suffix.lower() != ".mp4":
        print(
            f"clipzy apply: the output is an MP4; name it *.mp4, not {args.output.name}",
            file=sys.stderr,
        )
        return 2
    try:
        with tempfile.TemporaryDirectory(prefix="clipzy-") as tmp:
            if args.command == "extract":
                request = JobRequest("extract", Path(tmp), template=args.template)
                _run(request, args.output, "style")
            else:
                options = JobOptions(
                    audio=args.audio,
                    color_strength=args.color_strength,
                    transitions=not args.no_transitions,
                    recut=not args.no_recut,
                    max_output_s=args.max_output_s,
                )
                template, footage = (
                    (None, args.inputs) if args.style_dna else (args.inputs[0], args.inputs[1:])
                )
                if not footage:
                    print("clipzy apply: give at least one FOOTAGE clip", file=sys.stderr)
                    return 2
                request = JobRequest(
                    "extract_apply",
                    Path(tmp),
                    template=template,
                    footage=list(footage),
                    style_dna=args.style_dna,
                    options=options,
                )
                _run(request, args.output, "video")
    except ClipzyError as exc:
        print(json.dumps({"error": exc.to_dict()}), file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        error = {"code": "file_not_found", "message": f"no such file: {exc.filename}"}
        print(json.dumps({"error": error}), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
