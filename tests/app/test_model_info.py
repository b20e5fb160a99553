"""View > Model info shows the loaded models and, for trained ones, the teacher selection and the held-out
check stored in the model file."""

from __future__ import annotations

import numpy as np

from hyperinr_app.gui.model_info import model_info_text
from hyperinr_core import HashGridConfig, HyperINR, HyperINRConfig, MLPConfig
from hyperinr_core.train.selection import Score, Selection


def test_model_info_text_shows_the_selection_table_and_held_out_check(tmp_path):
    sel = Selection(
        "flow", Score("LERP", 34.4, 30.1), [Score("flow", 35.6, 31.0), Score("lerp", 34.4, 30.1)], 10, 9
    )
    meta = {
        "trained": "distilled",
        "teacher": "flow",
        "selection": sel.to_dict(),
        "heldout": {
            "frames": [1, 2],
            "hyperinr": {"psnr_mean": 34.0},
            "lerp": {"psnr_mean": 34.5},
            "gap_db": -0.5,
        },
    }
    cfg = HyperINRConfig(
        HashGridConfig(3, 2, 2, 8, 4, 2.0), MLPConfig(4, 1, 16, 2), ["t"], [0.0], [5.0], metadata=meta
    )
    HyperINR(cfg, np.linspace(0, 1, 3)[:, None]).save(tmp_path / "m.h5")
    text = model_info_text(HyperINR.load(tmp_path / "m.h5"), model_path="m.h5")
    assert "trained: distilled from the flow teacher" in text
    assert "parameter t: 0 .. 5" in text and "encoders: 3" in text
    assert "flow" in text and "+1.20" in text and "beats LERP by 1.20 dB" in text
    assert "held-out check (2 frames): HyperINR 34.00 dB, LERP 34.50 dB (-0.50 dB)" in text
    assert model_info_text(None) == "No model is loaded."


def test_model_info_dialog_lists_both_models_of_the_bundle(window):
    window.show_model_info()
    text = window.model_info_dialog.text.toPlainText()
    assert "parameter t: 0 .. 10" in text and "Shadow model" in text and "parameter azimuth: 0 .. 360" in text
    window.model_info_dialog.close()
