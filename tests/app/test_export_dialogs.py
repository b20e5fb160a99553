"""The export dialogs' estimate (a probe on a task thread, a warning when long) and the progress dialog's
label (frames, samples, elapsed, time left; refreshed by a timer between reports)."""

import threading

import pytest

pytestmark = pytest.mark.gl


def test_the_dialog_shows_a_measured_estimate_and_warns_when_long(qtbot, window):
    from hyperinr_app.export_estimate import ProbeResult
    from hyperinr_app.gui.export_dialogs import ExportAnimationDialog

    dlg = ExportAnimationDialog(window)
    qtbot.waitUntil(lambda: dlg.probed is not None, timeout=120000)  # measured off the GUI thread
    assert dlg.probed.renderer == "gl" and dlg.probed.sample_s > 0
    assert "with gl" in dlg.estimate.text() and "about" in dlg.estimate.text()
    # Scaled as the fields change, without a new probe: a slow machine's figures warn, quick ones do not.
    dlg.probed = ProbeResult("gl", sample_s=1e-6, prepare_s=0.5)
    dlg.frames.setValue(10)
    dlg.width_.setValue(100)
    dlg.height_.setValue(100)
    dlg.spp.setValue(1)
    text = dlg.estimate.text()
    assert "over 3 minutes" not in text and "about 5 s" in text  # 10 x 0.5 + 10 x 1e4 x 1e-6
    dlg.spp.setValue(64)
    dlg.frames.setValue(1000)
    text = dlg.estimate.text()
    assert "over 3 minutes" in text and "frames" in text
    # A light sweep decodes once, a parameter sweep every frame.
    assert dlg.work() == (1000, 1000)
    dlg.kind.setCurrentIndex(dlg.kind.count() - 1)  # camera orbit
    assert dlg.work() == (1000, 1)
    dlg.reject()


def test_the_progress_label_counts_frames_and_the_clock_between_reports(qtbot, window):
    from hyperinr_app.gui.export_dialogs import run_with_progress

    go = threading.Event()

    def work(progress, cancel):
        progress(16 * 3 + 5, 16 * 10)  # frame 4 of 10 in progress
        go.wait(20)

    done = []
    dlg = run_with_progress(window, "Exporting animation", work, done.append, frames=10, spp=16)
    qtbot.waitUntil(lambda: "frame 3/10" in dlg.labelText(), timeout=10000)
    first = dlg.labelText()
    assert "16 spp" in first and "elapsed" in first and "left" in first
    qtbot.waitUntil(lambda: dlg.labelText() != first, timeout=5000)  # the timer moves the clock on
    go.set()
    qtbot.waitUntil(lambda: bool(done), timeout=10000)
