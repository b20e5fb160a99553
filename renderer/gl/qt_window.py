"""A vispy canvas backend on a ``QOpenGLWindow``, embedded in widgets through a window container.

vispy's Qt backend draws into a ``QOpenGLWidget``. Such a widget renders into a texture that Qt composes with
the rest of the top-level window through OpenGL, and that composition then runs for *every* repaint of *any*
widget in the window: a slider moving, a label changing. With a software rasteriser it is the most expensive
thing the GUI thread does (``hyperinr bench latency`` compares both). A ``QOpenGLWindow`` in
``QWidget.createWindowContainer`` is its own native window instead: it swaps its own buffers, and the other
widgets repaint through the plain raster backing store.

The backend reuses vispy's Qt event translation (mouse, wheel, keys) and adds what a window needs:
- GL work before the window is first exposed (uploads, offscreen renders) runs in a secondary context on an
  offscreen surface that shares objects with the window's context (as vispy does for its widget);
- key events the canvas does not handle go on to the container widget, so the window's own key handling
  (arrow keys step the timestep) keeps working while the canvas has the focus;
- :meth:`widget` is the container to put in a layout.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QOffscreenSurface, QOpenGLContext
from PySide6.QtOpenGL import QOpenGLWindow
from PySide6.QtWidgets import QWidget
from vispy.app.backends import _qt


class WindowCanvasBackend(_qt.QtBaseCanvasBackend, QOpenGLWindow):
    """vispy ``CanvasBackend`` protocol on a ``QOpenGLWindow`` (see the module docstring)."""

    def _init_specific(self, p, kwargs):
        fmt = _qt._set_config(p.context.config)
        fmt.setSwapInterval(1 if p.vsync else 0)
        p.context.shared.add_ref("qt", self)
        # Created first, so the window's context (made on first expose) can share its objects.
        self._secondary_context = QOpenGLContext()
        share = QOpenGLContext.globalShareContext()
        if share is not None:
            self._secondary_context.setShareContext(share)
        self._secondary_context.setFormat(fmt)
        self._secondary_context.create()
        QOpenGLWindow.__init__(self, self._secondary_context, QOpenGLWindow.NoPartialUpdate)
        self.setFormat(fmt)
        self._surface = QOffscreenSurface()
        self._surface.setFormat(fmt)
        self._surface.create()
        self._secondary_context.makeCurrent(self._surface)
        self._container: QWidget | None = None
        self._initialized = True

    # -- what QtBaseCanvasBackend expects of a QWidget ---------------------------------------------------
    def setMouseTracking(self, enable: bool) -> None:  # a QWindow always reports mouse moves
        pass

    def setWindowTitle(self, title: str) -> None:
        self.setTitle(title)

    def setFixedSize(self, size) -> None:
        self.setMinimumSize(size)
        self.setMaximumSize(size)

    def window(self):
        """QWidget API, used by vispy to follow screen changes through the top-level widget; a window has
        none (vispy then skips it, and Qt re-exposes the window on another screen anyway)."""
        return None

    # -- embedding -----------------------------------------------------------------------------------------
    def widget(self, parent: QWidget | None = None) -> QWidget:
        """The container widget showing this window (created on first use)."""
        if self._container is None:
            self._container = QWidget.createWindowContainer(self, parent)
            self._container.setFocusPolicy(_qt.QtCore.Qt.WheelFocus)
            self._container.setMinimumSize(64, 48)
        return self._container

    def keyPressEvent(self, ev):
        self._forward_unhandled(ev, super().keyPressEvent)

    def keyReleaseEvent(self, ev):
        self._forward_unhandled(ev, super().keyReleaseEvent)

    def _forward_unhandled(self, ev, handler) -> None:
        if self._vispy_canvas is None:
            return
        ev.accept()
        handler(ev)
        if not ev.isAccepted() and self._container is not None:
            # A native window does not pass ignored keys to its parent widget as a widget would.
            QCoreApplication.sendEvent(self._container, ev.clone())

    # -- GL ----------------------------------------------------------------------------------------------
    def _vispy_close(self):
        self.close()
        if self._vispy_canvas is not None:
            self._vispy_canvas.app.process_events()

    def _vispy_set_current(self):
        if self._vispy_canvas is None:
            return
        if self.isValid():
            self.makeCurrent()
        else:  # not exposed yet: the secondary context, whose objects the window's context shares
            self._secondary_context.makeCurrent(self._surface)

    def _vispy_swap_buffers(self):
        pass  # QOpenGLWindow swaps after paintGL

    def _vispy_get_fb_bind_location(self):
        return self.defaultFramebufferObject() if self.isValid() else 0

    def initializeGL(self):
        if self._vispy_canvas is not None:
            self._vispy_canvas.events.initialize()

    def resizeGL(self, w, h):
        if self._vispy_canvas is None:
            return
        ratio = self.devicePixelRatio()
        pw, ph = int(w * ratio), int(h * ratio)
        self._vispy_set_physical_size(pw, ph)
        self._vispy_canvas.events.resize(size=(self.width(), self.height()), physical_size=(pw, ph))

    def paintGL(self):
        if self._vispy_canvas is None:
            return
        self._vispy_canvas.set_current()
        self._vispy_canvas.events.draw(region=None)
