"""Off-GUI-thread work: the inbox and the task runner deliver on the GUI thread, and Qt objects are only ever
released there (a worker thread freeing Qt wrappers deadlocked the explorer at the end of an export)."""

import threading
import time
import weakref

import pytest


class Probe:
    """Records the thread that frees it."""

    freed_on: list = []

    def __init__(self):
        weakref.finalize(self, lambda: Probe.freed_on.append(threading.get_ident()))


def test_inbox_runs_posts_from_many_threads_on_the_gui_thread_in_order(qtbot):
    from hyperinr_app.gui.inbox import Inbox

    inbox = Inbox()
    got: dict[int, list] = {}
    where = set()

    def record(worker, i):
        where.add(threading.get_ident())
        got.setdefault(worker, []).append(i)

    def spam(worker):
        for i in range(2000):
            inbox.post(record, worker, i)

    threads = [threading.Thread(target=spam, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    qtbot.waitUntil(lambda: sum(map(len, got.values())) == 8000, timeout=10000)
    assert where == {threading.get_ident()}
    assert all(got[w] == list(range(2000)) for w in range(4))
    inbox.close()
    inbox.post(record, 9, 0)  # after close: dropped, no error
    qtbot.wait(20)
    assert 9 not in got


def test_task_runner_delivers_results_and_errors_and_frees_closures_on_the_gui_thread(qtbot):
    from hyperinr_app.gui.tasks import TaskRunner

    gui = threading.get_ident()
    runner = TaskRunner(max_threads=2)
    Probe.freed_on.clear()
    out = []
    for k in range(20):
        held_by_fn, held_by_callback = Probe(), Probe()

        def fn(k=k, p=held_by_fn):
            time.sleep(0.001)
            if k % 5 == 0:
                raise ValueError(f"job {k} failed")
            return k * k, threading.get_ident()

        def done(v, p=held_by_callback):
            out.append(("done", v[0], v[1] != gui, threading.get_ident()))

        def failed(exc, p=held_by_callback):
            out.append(("error", str(exc), "ValueError" in exc.__hyperinr_traceback__, threading.get_ident()))

        runner.submit(fn, done, failed)
        del fn, done, failed, held_by_fn, held_by_callback
    qtbot.waitUntil(lambda: len(out) == 20 and runner.pending == 0, timeout=10000)
    assert {o[3] for o in out} == {gui}  # callbacks ran on the GUI thread
    assert sorted(o[1] for o in out if o[0] == "done") == sorted(k * k for k in range(20) if k % 5)
    assert all(o[2] for o in out)  # work ran off the GUI thread; errors carry their traceback
    assert {o[1] for o in out if o[0] == "error"} == {f"job {k} failed" for k in (0, 5, 10, 15)}
    import gc

    gc.collect()
    assert len(Probe.freed_on) == 40 and set(Probe.freed_on) == {gui}
    runner.shutdown()
    with pytest.raises(RuntimeError):
        runner.submit(lambda: None, print, print)


def test_shutdown_waits_for_running_work_and_drops_its_callbacks(qtbot):
    from hyperinr_app.gui.tasks import TaskRunner

    runner = TaskRunner(max_threads=1)
    started, calls = threading.Event(), []
    runner.submit(lambda: (started.set(), time.sleep(0.3)), calls.append, calls.append)
    runner.submit(lambda: calls.append("queued job ran"), calls.append, calls.append)  # cancelled
    assert started.wait(5)
    runner.shutdown()
    assert runner.running == 0
    qtbot.wait(50)
    assert calls == []
    assert not [t for t in threading.enumerate() if t.name.startswith("hyperinr-task")]


def test_many_progress_dialogs_fed_from_worker_threads(qtbot):
    """The pattern of an export: a modal progress dialog, progress reported from the task thread at a high
    rate, the dialog closed when the task ends. Used to crash (bool_dealloc) or hang under PySide6."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QProgressDialog, QWidget

    from hyperinr_app.gui.tasks import TaskRunner

    parent = QWidget()
    qtbot.addWidget(parent)
    parent.show()
    runner = TaskRunner(parent, max_threads=2)
    closed = []
    for _ in range(40):
        dlg = QProgressDialog("working", "Cancel", 0, 100, parent)
        dlg.setWindowModality(Qt.WindowModal)
        dlg.setMinimumDuration(0)
        state = {"posted": False, "value": 0}

        def show(dlg=dlg, state=state):
            state["posted"] = False
            dlg.setValue(state["value"])

        def work(state=state, show=show):
            for i in range(300):
                state["value"] = i // 3
                if not state["posted"]:
                    state["posted"] = True
                    runner.inbox.post(show)
            return True

        def done(_v, dlg=dlg):
            dlg.close()
            dlg.deleteLater()
            closed.append(True)

        runner.submit(work, done, done)
        dlg.show()
    qtbot.waitUntil(lambda: len(closed) == 40, timeout=60000)
    runner.shutdown()
