"""The precision of the learned components' CPU inference (``CADBUSI_TORCH_PRECISION``).

The suite runs them in float32 (``conftest.py``: the recorded fixtures hold float32 outputs,
and a CI machine without AMX has no other choice). Here each precision is chosen on its own:
the setting, and on a CPU with native bfloat16 the caliper networks' bfloat16 path, which must
be deterministic, give a crop or a point the same output alone as in a batch, and find the
points and styles recorded in float32 (``caliper_equivalence.json``). On a CPU without native
bfloat16 the same tests check that ``auto`` runs float32 and that ``bf16`` is refused. The
line reader stays float32 (its gate's verdicts moved in bfloat16).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cadbusi_assets.ultrasound import caliper_net as caliper_module
from cadbusi_assets.ultrasound import glyphs, models
from cadbusi_assets.ultrasound.caliper_net import CaliperNet, input_array
from cadbusi_assets.ultrasound.models import PRECISION_ENV_VAR, inference_dtype, native_bf16
from cadbusi_demo.screens_heldout import render_screen

NATIVE = native_bf16()


def _with(monkeypatch: pytest.MonkeyPatch, precision: str, build):
    monkeypatch.setenv(PRECISION_ENV_VAR, precision)
    try:
        return build()
    finally:
        monkeypatch.setenv(PRECISION_ENV_VAR, "fp32")


@pytest.fixture(scope="module")
def nets():
    """float32 and (on a CPU with native bfloat16) bfloat16 caliper nets."""
    import os

    def build(precision: str):
        before = os.environ.get(PRECISION_ENV_VAR)
        os.environ[PRECISION_ENV_VAR] = precision
        try:
            return CaliperNet()
        finally:
            if before is None:
                del os.environ[PRECISION_ENV_VAR]
            else:
                os.environ[PRECISION_ENV_VAR] = before

    out = {"fp32": build("fp32")}
    if NATIVE:
        out["bf16"] = build("bf16")
    return out


def _net_or_refused(nets, precision: str, monkeypatch: pytest.MonkeyPatch) -> CaliperNet | None:
    """The net of ``precision``; None on a CPU without native bfloat16 asked for bf16, after
    checking that such a CPU refuses it (the test has nothing else to check there)."""
    if precision in nets:
        return nets[precision]
    assert precision == "bf16" and not NATIVE
    monkeypatch.setenv(PRECISION_ENV_VAR, "bf16")
    with pytest.raises(ValueError, match="no native bfloat16"):
        CaliperNet()
    return None


def test_the_setting_picks_the_dtype(monkeypatch):
    import torch

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    for native in (True, False):
        monkeypatch.setattr(models, "native_bf16", lambda native=native: native)
        monkeypatch.delenv(PRECISION_ENV_VAR, raising=False)
        assert inference_dtype(cpu) == (torch.bfloat16 if native else torch.float32)
        assert inference_dtype(cuda) == torch.float32  # the GPU path as it was
        monkeypatch.setenv(PRECISION_ENV_VAR, "auto")
        assert inference_dtype(cpu) == (torch.bfloat16 if native else torch.float32)
        monkeypatch.setenv(PRECISION_ENV_VAR, " FP32 ")
        assert inference_dtype(cpu) == inference_dtype(cuda) == torch.float32
        monkeypatch.setenv(PRECISION_ENV_VAR, "bf16")
        if native:
            assert inference_dtype(cpu) == torch.bfloat16
        else:
            with pytest.raises(ValueError, match="no native bfloat16"):
                inference_dtype(cpu)
        with pytest.raises(ValueError, match="cuda"):
            inference_dtype(cuda)
        monkeypatch.setenv(PRECISION_ENV_VAR, "fp16")
        with pytest.raises(ValueError, match="auto, fp32, bf16"):
            inference_dtype(cpu)


def test_native_bf16_is_the_cpus_own_bfloat16():
    """The CPU's own flags, read independently of torch (Linux: /proc/cpuinfo): not oneDNN's
    bfloat16 support, which is true on any AVX-512 CPU, where it is emulated."""
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
    # no x86 flags (an ARM machine lists "Features"): not an AVX512-BF16 CPU
    assert native_bf16() == ("avx512_bf16" in flags)


def test_bf16_where_the_cpu_has_none_is_refused(monkeypatch):
    monkeypatch.setattr(models, "native_bf16", lambda: False)
    monkeypatch.setenv(PRECISION_ENV_VAR, "bf16")
    with pytest.raises(ValueError, match=PRECISION_ENV_VAR):
        CaliperNet()


def test_auto_runs_bf16_exactly_where_the_cpu_has_it(monkeypatch):
    import torch

    net = _with(monkeypatch, "auto", CaliperNet)
    expected = torch.bfloat16 if NATIVE else torch.float32
    assert net.dtype == expected
    modules = (net.model, net.refiner, net.placer)
    assert {p.dtype for m in modules for p in m.parameters()} == {expected}


def _crops() -> list[np.ndarray]:
    frame = render_screen("ge_logiq", 114).frame
    return [frame[101:298, 203:442], np.ascontiguousarray(frame[:197, :239]), frame[50:247, 60:299]]


def test_forced_fp32_gives_the_float32_model_outputs(monkeypatch, nets):
    """``fp32`` runs the float32 model as before, bit for bit, whatever the CPU."""
    import torch

    net = nets["fp32"]
    assert net.dtype == torch.float32
    assert {p.dtype for p in net.model.parameters()} == {torch.float32}
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            for crop in _crops():
                x = torch.from_numpy(input_array(crop)[None])
                expected = net.model(x.contiguous(memory_format=torch.channels_last))[0].numpy()
                assert net.outputs([crop])[0].tobytes() == expected.tobytes()
    finally:
        torch.set_num_threads(torch_threads)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_caliper_net_is_deterministic_and_a_crop_is_the_same_in_a_batch(
    nets, precision, monkeypatch
):
    """Same crop, same output; a crop alone or in a batch of its size, the same bits. The
    refiners too in bfloat16 (a point alone or among others; in float32 their sums move
    with the batch, as they did before: not asserted)."""
    net = _net_or_refused(nets, precision, monkeypatch)
    if net is None:
        return
    crops = _crops()
    alone = [net.outputs([c])[0] for c in crops]
    assert all(a.tobytes() == b.tobytes() for a, b in zip(alone, net.outputs(crops), strict=True))
    again = CaliperNet.outputs(net, [c.copy() for c in crops])
    assert all(a.tobytes() == b.tobytes() for a, b in zip(alone, again, strict=True))
    crop = crops[0]
    points = [(40, 60), (100, 120), (150, 30), (20, 180)]
    together = net.refine(crop, points)
    assert net.refine(crop, points) == together
    mirrored = net.mirrored(crop, points)
    assert np.array_equal(net.mirrored(crop, points), mirrored)
    if precision == "bf16":
        assert [net.refine(crop, [p])[0] for p in points] == together
        singles = np.concatenate([net.mirrored(crop, [p]) for p in points])
        assert np.array_equal(singles, mirrored)


def test_bf16_finds_the_recorded_caliper_points(monkeypatch, nets):
    """bfloat16 on the frames of ``caliper_equivalence.json`` (recorded in float32): the
    same points and styles (the scores may move in their last digits)."""
    from cadbusi_assets_tests.ultrasound.caliper_record import FRAMES, detections, recorded

    net = _net_or_refused(nets, "bf16", monkeypatch)
    if net is None:
        return
    monkeypatch.setattr(caliper_module, "caliper_net", lambda: net)
    record = recorded()
    for family, seed in FRAMES:
        found = detections(family, seed)
        expected = record[f"{family}/{seed}"]
        assert (found["points"], found["styles"]) == (expected["points"], expected["styles"])
        assert np.allclose(found["scores"], expected["scores"], atol=0.01)


def test_the_line_reader_stays_float32_whatever_the_setting(monkeypatch):
    """Its gate's thresholds are calibrated on float32 confidences (bfloat16 changed the
    gate's verdicts on tuning lines: :mod:`~cadbusi_assets.ultrasound.glyphs`)."""
    import torch

    for precision in ("auto", "bf16", "fp32"):
        monkeypatch.setattr(models, "native_bf16", lambda: True)
        reader = _with(monkeypatch, precision, glyphs.LineReader)
        assert {w.dtype for w, _ in reader._convs + reader._sequence} == {torch.float32}


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_fused_forward_is_the_eager_modules_bitwise(nets, precision, monkeypatch):
    """On the CPU in bfloat16 the net runs each convolution or linear layer with its ReLU as
    one oneDNN primitive (:func:`~.caliper_net.fused_forward`): the eager modules' bits, for
    the heat map on tuning crops and both refiners on points of theirs (the heat map's, and
    points at the crop's edges), one thread, channels last. In float32 it runs the eager
    modules (their refiners' kernels give other last bits than the fused primitives)."""
    import torch

    net = _net_or_refused(nets, precision, monkeypatch)
    if net is None:
        return
    fusable = caliper_module._fusable()
    assert net.fused == (precision == "bf16" and net.device.type == "cpu" and fusable)
    if not net.fused:
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            for family, seed in (("ge_logiq", 114), ("philips_epiq", 220), ("ge_voluson", 278)):
                crop = np.ascontiguousarray(render_screen(family, seed).frame[37:-41, 22:-30])
                batch = (
                    torch.from_numpy(input_array(crop)[None] - np.float32(0.5))
                    .to(net.dtype)
                    .contiguous(memory_format=torch.channels_last)
                )
                eager = net.model.head(net.model.body(batch))
                fused = caliper_module.fused_forward([*net.model.body, net.model.head], batch)
                assert fused.float().numpy().tobytes() == eager.float().numpy().tobytes()
                centres = [(p.x, p.y) for p in net.find([crop], 0.05)[0]][:20]
                assert centres
                centres += [(3, 4), (200, 150), (crop.shape[1] - 2, crop.shape[0] - 9)]
                for module, version in ((net.refiner, net.refiner_version), (net.placer, 1)):
                    if module is None:
                        continue
                    inputs = (
                        torch.from_numpy(caliper_module.patches(crop, centres, version))
                        .to(net.dtype)
                        .contiguous(memory_format=torch.channels_last)
                    )
                    eager = module(inputs)
                    fused = caliper_module.fused_forward(list(module.body), inputs - 0.5)
                    assert fused.float().numpy().tobytes() == eager.float().numpy().tobytes()
    finally:
        torch.set_num_threads(threads)
