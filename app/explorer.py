"""``hyperinr-explorer``: create the Qt application and the main window, open what was asked for.

Two ways to run:

- interactive: errors become dialogs, and the window stays usable;
- scripted (``--screenshot``): the window renders once at rest, is saved and closes. Nothing waits for a
  click: an error prints one line to stderr and exits with code 2. The user's saved session (layout, recent
  files, transfer functions, last folder) is neither read nor written.

Ctrl-C quits either cleanly with exit code 130 (:mod:`app.gui.sigint`): exports in progress are cancelled
(they leave nothing behind), the worker threads stop, the window closes.
"""

from __future__ import annotations

import argparse
import sys

SCREENSHOT_TIMEOUT_S = 600
EXIT_ERROR, EXIT_INTERRUPTED = 2, 130


def check_arguments(args: argparse.Namespace) -> tuple[tuple[float, float] | None, dict[str, float]]:
    """What needs no file and no Qt: the light, the parameters' syntax, the sample count."""
    from hyperinr_app.params import parse_params
    from hyperinr_core.errors import HyperINRError

    from hyperinr_app.params import parse_light

    light = parse_light(args.light)
    params = parse_params(args.param)
    if args.spp is not None and args.spp < 1:
        raise HyperINRError(f"--spp must be >= 1, got {args.spp}")
    return light, params


def check_target(target, params: dict[str, float]) -> None:
    """Scripted runs and ``--param``: the file must be a model or bundle whose parameters have these names
    and ranges (read from its header: a typo is an error now, not after the window opened)."""
    from hyperinr_app.loading import model_parameters
    from hyperinr_app.params import resolve_params

    model_path, names, lo, hi = model_parameters(target)
    resolve_params(params, names, lo, hi, source=model_path)


def run(args: argparse.Namespace) -> int:
    from hyperinr_app.bundle import demo_bundle_path

    light, params = check_arguments(args)
    scripted = bool(args.screenshot)
    if scripted:
        from hyperinr_core.fileio import prepare_output

        prepare_output(args.screenshot)
    target = args.model or demo_bundle_path()
    if target is not None and (scripted or params):
        check_target(target, params)
    elif scripted:
        from hyperinr_core.errors import HyperINRError

        raise HyperINRError("no demo bundle in this installation; give a model or bundle to --screenshot")

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from hyperinr_renderer.gl.canvas import ensure_app

    ensure_app()  # refuses a Qt binding known to corrupt the interpreter (renderer/gl/binding.py)
    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    qapp.setApplicationName("HyperINR Explorer")
    exit_code: list[int] = []
    win = None

    def finish(code: int) -> None:
        """Close the window and leave the event loop with ``code`` (the first code asked for wins). Deferred
        to the top of the event loop: this may be called from inside a callback of the window itself."""
        exit_code.append(code)
        if len(exit_code) == 1:
            QTimer.singleShot(0, close_and_quit)

    def close_and_quit() -> None:
        if win is not None:
            progress = getattr(win, "export_progress", None)
            if progress is not None and progress.isVisible():
                progress.cancel()  # the export stops at its next check and removes its temporary file
            win.close()
        qapp.exit(exit_code[0])

    from hyperinr_app.gui.sigint import SigintQuit

    sigint = SigintQuit(lambda: finish(EXIT_INTERRUPTED))  # first, so that no Ctrl-C lands in a Qt override
    try:
        from hyperinr_app.gui.main_window import MainWindow

        win = MainWindow(restore_session=not scripted)
        session = win.session
        session.compile_decoder = not scripted  # one image needs no compiler (and no compile thread at exit)
        if scripted:
            def fail(title: str, msg: str) -> None:
                print(f"hyperinr-explorer: error: {title}: {msg}", file=sys.stderr)
                finish(EXIT_ERROR)

            win.set_error_handler(fail)
        if light:
            session.set_light(azimuth=light[0], polar=light[1])
        if target is None:
            win.param_panel.show_message(
                "No demo bundle in this installation: build it with `hyperinr demo build`, "
                "or open a model (File > Open)."
            )
        session.initial_params.update(params)
        if getattr(args, "shadow", None):
            session.shadow_explicit = True
            session.set_shadow_mode(args.shadow)
        win.show()
        if target is not None:
            win.open_path(target)
        if scripted:
            _schedule_screenshot(win, qapp, args, finish)
        rc = qapp.exec()
        if win.isVisible():
            win.close()
    finally:
        sigint.uninstall()
        _join_compile_threads()
    if sigint.hit:
        print("hyperinr-explorer: interrupted", file=sys.stderr)
    return exit_code[0] if exit_code else rc


def _schedule_screenshot(win, qapp, args: argparse.Namespace, finish) -> None:
    """Save the window once the canvas has the requested samples per pixel at rest, then close."""
    from PySide6.QtCore import QTimer

    out = args.screenshot
    want = max(1, min(int(args.spp or 32), win.canvas.max_spp))
    win.canvas.stop_when_converged = False  # the samples asked for, even where the image converged sooner
    shot = []

    def shoot():
        from hyperinr_core.errors import HyperINRError
        from hyperinr_core.fileio import atomic_path

        win.canvas.events.frame_rendered.disconnect(refined)
        try:
            with atomic_path(out) as tmp:
                if not win.grab_window().save(str(tmp), "PNG"):
                    raise HyperINRError(f"{out}: could not encode the PNG")
        except HyperINRError as exc:
            win.show_error("Cannot save the screenshot", exc)
            return
        print(f"wrote {out} ({win.canvas.spp} spp)")
        finish(0)

    def refined(event):
        # After the first full frame, wait for the requested samples per pixel at rest, then save once.
        if not shot and not win.session.pending_first and not event.interactive and event.spp >= want:
            shot.append(True)
            QTimer.singleShot(100, shoot)

    win.canvas.events.frame_rendered.connect(refined)

    def give_up():
        # Never hang a script; say so instead of exiting quietly (a cold torch.compile cache on a busy
        # machine can take minutes before the first full frame).
        if not shot:
            print(f"hyperinr-explorer: error: no full frame within {SCREENSHOT_TIMEOUT_S} s; {out} not "
                  "written", file=sys.stderr)
            finish(1)

    QTimer.singleShot(SCREENSHOT_TIMEOUT_S * 1000, give_up)


def _join_compile_threads() -> None:
    """Let a background torch.compile finish before the interpreter exits: killed in the middle of it at
    exit, its C++ threads abort the process ("terminate called without an active exception")."""
    from hyperinr_core.model.fast import compile_threads, join_compile_threads

    if compile_threads():
        print("hyperinr-explorer: waiting for the background compiler to finish…", file=sys.stderr)
        join_compile_threads()
