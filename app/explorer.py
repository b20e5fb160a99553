"""``hyperinr-explorer``: create the Qt application and the main window, open what was asked for."""

from __future__ import annotations

import argparse
import sys

SCREENSHOT_TIMEOUT_S = 600


def parse_light(text: str | None) -> tuple[float, float] | None:
    if not text:
        return None
    try:
        az, polar = (float(v) for v in text.split(","))
    except ValueError:
        raise SystemExit(f"hyperinr-explorer: --light {text!r}: expected AZ,POLAR in degrees") from None
    return az, polar


def run(args: argparse.Namespace) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.bundle import demo_bundle_path
    from renderer.gl.canvas import ensure_app

    ensure_app()  # refuses a Qt binding known to corrupt the interpreter (renderer/gl/binding.py)
    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    qapp.setApplicationName("HyperINR Explorer")
    from app.gui.main_window import MainWindow

    # A scripted screenshot starts from defaults and leaves the user's saved session alone.
    win = MainWindow(restore_session=not args.screenshot)
    light = parse_light(args.light)
    if light:
        win._set_light(azimuth=light[0], polar=light[1])
    target = args.model or demo_bundle_path()
    if target is None:
        win.param_message.setText(
            "No demo bundle in this installation: build it with `hyperinr demo build`, "
            "or open a model (File > Open)."
        )
    for item in args.param:
        name, _, val = item.partition("=")
        try:
            win.initial_params[name.strip()] = float(val)
        except ValueError:
            raise SystemExit(f"hyperinr-explorer: --param {item!r}: expected NAME=VALUE") from None
    if getattr(args, "shadow", None):
        win.shadow_combo.setCurrentText(args.shadow)
    win.show()
    if target is not None:
        win.open_path(target)
    if args.screenshot:
        out = args.screenshot

        def shoot():
            from hyperinr_core.fileio import atomic_path

            win.canvas.events.frame_rendered.disconnect(refined)
            with atomic_path(out) as tmp:
                win.grab_window().save(str(tmp), "PNG")
            print(f"wrote {out} ({win.canvas.spp} spp)")
            win.close()

        want = max(1, min(int(getattr(args, "spp", 32) or 32), win.canvas.max_spp))
        shot = []

        def refined(event):
            # After the first full frame, wait for the requested samples per pixel at rest, then save once.
            if not shot and not win._pending_first and not event.interactive and event.spp >= want:
                shot.append(True)
                QTimer.singleShot(100, shoot)

        win.canvas.events.frame_rendered.connect(refined)

        def give_up():
            # Never hang a script; say so instead of exiting quietly (a cold torch.compile cache on a busy
            # machine can take minutes before the first full frame).
            print(f"hyperinr-explorer: no full frame within {SCREENSHOT_TIMEOUT_S} s; {out} not written",
                  file=sys.stderr)
            qapp.exit(1)

        QTimer.singleShot(SCREENSHOT_TIMEOUT_S * 1000, give_up)
    return qapp.exec()
