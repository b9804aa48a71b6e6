"""An intracellular (patch-clamp) recording written with pynwb's icephys API, with all five tables.

Current clamp: three step amplitudes (-50, +50, +100 pA), each recorded twice; the membrane
answers with ``R * I * (1 - exp(-t / tau))`` plus a little seeded noise, so a group's average is
known in advance. Voltage clamp: one sequence of three voltage steps. The tables group them:
one simultaneous recording per sweep, three sequential recordings (two current-step runs and one
voltage-step run, with ``stimulus_type``), two repetitions, two experimental conditions
(``control`` and ``drug``, in a ``tag`` column); the stimuli table has a ``step`` column
(``-50 pA``, ...). Responses are stored as int16 with a
``conversion`` and stimuli in pA with a ``conversion``, so readers must scale them. About 450 KB.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

__all__ = ["write_icephys_nwb", "CC_AMPLITUDES_PA", "VC_STEPS_MV", "RATE_HZ", "SAMPLES"]

RATE_HZ = 10_000.0
SAMPLES = 2_000
CC_AMPLITUDES_PA = (-50.0, 50.0, 100.0)
VC_STEPS_MV = (-80.0, -60.0, -40.0)
_STEP = slice(400, 1400)
_RESTING_V = -0.070
_RESISTANCE_OHM = 200e6
_TAU_S = 0.02
_V_CONVERSION = 1e-5  # int16 counts to volts
_PA = 1e-12


def _current_step(amplitude_pa: float) -> np.ndarray:
    stim = np.zeros(SAMPLES, dtype=np.float32)
    stim[_STEP] = amplitude_pa
    return stim


def _membrane(amplitude_pa: float, rng: np.random.Generator) -> np.ndarray:
    """Volts: rest, a charging curve during the step, the decay after it, and 0.1 mV of noise."""
    t = np.arange(SAMPLES) / RATE_HZ
    t_on, t_off = _STEP.start / RATE_HZ, _STEP.stop / RATE_HZ
    plateau = _RESISTANCE_OHM * amplitude_pa * _PA
    v = np.full(SAMPLES, _RESTING_V)
    during = (t >= t_on) & (t < t_off)
    v[during] += plateau * (1 - np.exp(-(t[during] - t_on) / _TAU_S))
    reached = plateau * (1 - np.exp(-(t_off - t_on) / _TAU_S))
    v[t >= t_off] += reached * np.exp(-(t[t >= t_off] - t_off) / _TAU_S)
    return v + rng.normal(0.0, 1e-4, SAMPLES)


def _add_current_clamp(nwbfile, electrode, amplitude: float, sweep: int, start: float, rng, text: str):
    from pynwb.icephys import CurrentClampSeries, CurrentClampStimulusSeries

    stimulus = CurrentClampStimulusSeries(
        name=f"ccss_{sweep:02d}",
        data=_current_step(amplitude),
        conversion=_PA,
        unit="amperes",
        starting_time=start,
        rate=RATE_HZ,
        electrode=electrode,
        gain=1.0,
        sweep_number=np.uint32(sweep),
        description=f"current step {amplitude:+.0f} pA{text}",
    )
    counts = np.round(_membrane(amplitude, rng) / _V_CONVERSION).astype(np.int16)
    response = CurrentClampSeries(
        name=f"ccs_{sweep:02d}",
        data=counts,
        conversion=_V_CONVERSION,
        unit="volts",
        starting_time=start,
        rate=RATE_HZ,
        electrode=electrode,
        gain=1.0,
        sweep_number=np.uint32(sweep),
        stimulus_description=f"step {amplitude:+.0f} pA{text}",
        description=f"membrane potential{text}",
    )
    return stimulus, response


def _add_voltage_clamp(nwbfile, electrode, level_mv: float, sweep: int, start: float, rng):
    from pynwb.icephys import VoltageClampSeries, VoltageClampStimulusSeries

    command = np.full(SAMPLES, -70.0, dtype=np.float32)
    command[_STEP] = level_mv
    stimulus = VoltageClampStimulusSeries(
        name=f"vcss_{sweep:02d}",
        data=command,
        conversion=1e-3,
        unit="volts",
        starting_time=start,
        rate=RATE_HZ,
        electrode=electrode,
        gain=1.0,
        sweep_number=np.uint32(sweep),
    )
    current = (command.astype(np.float64) + 70.0) * 1e-3 / _RESISTANCE_OHM + rng.normal(0, 1e-12, SAMPLES)
    response = VoltageClampSeries(
        name=f"vcs_{sweep:02d}",
        data=(current / _PA).astype(np.float32),
        conversion=_PA,
        unit="amperes",
        starting_time=start,
        rate=RATE_HZ,
        electrode=electrode,
        gain=1.0,
        sweep_number=np.uint32(sweep),
    )
    return stimulus, response


def _record(nwbfile, electrode, pair, step: str) -> int:
    """One intracellular recording in its own simultaneous recording; returns the simultaneous row."""
    stimulus, response = pair
    nwbfile.add_stimulus(stimulus)
    nwbfile.add_acquisition(response)
    row = nwbfile.add_intracellular_recording(
        electrode=electrode, stimulus=stimulus, response=response, stimulus_metadata={"step": step}
    )
    return nwbfile.add_icephys_simultaneous_recording(recordings=[row])


def write_icephys_nwb(path: Path, text: str = "") -> Path:
    """Write the recording to ``path`` (a temporary name, then a rename) and return ``path``.

    ``text`` is appended to the sweeps' descriptions, the electrode's description and the
    conditions' tags: crafted-text tests pass markup there.
    """
    from pynwb import NWBHDF5IO, NWBFile

    rng = np.random.default_rng(17)
    nwbfile = NWBFile(
        session_description=f"patch-clamp steps{text}",
        identifier="icephys-test",
        session_start_time=datetime(2026, 1, 2, tzinfo=UTC),
    )
    device = nwbfile.create_device(name="amplifier")
    electrode = nwbfile.create_icephys_electrode(
        name="elec0", description=f"whole-cell pipette{text}", device=device
    )
    nwbfile.get_intracellular_recordings().add_column(
        name="step", description="the step's size", category="stimuli"
    )
    sweep, start, sequences = 0, 0.0, []
    for _ in range(2):
        rows = []
        for amplitude in CC_AMPLITUDES_PA:
            pair = _add_current_clamp(nwbfile, electrode, amplitude, sweep, start, rng, text)
            rows.append(_record(nwbfile, electrode, pair, f"{amplitude:+.0f} pA"))
            sweep, start = sweep + 1, start + 1.0
        sequences.append(
            nwbfile.add_icephys_sequential_recording(
                simultaneous_recordings=rows, stimulus_type="current steps"
            )
        )
    rows = []
    for level in VC_STEPS_MV:
        pair = _add_voltage_clamp(nwbfile, electrode, level, sweep, start, rng)
        rows.append(_record(nwbfile, electrode, pair, f"{level:+.0f} mV"))
        sweep, start = sweep + 1, start + 1.0
    sequences.append(
        nwbfile.add_icephys_sequential_recording(simultaneous_recordings=rows, stimulus_type="voltage steps")
    )
    first = nwbfile.add_icephys_repetition(sequential_recordings=[sequences[0]])
    second = nwbfile.add_icephys_repetition(sequential_recordings=[sequences[1], sequences[2]])
    conditions = nwbfile.get_icephys_experimental_conditions()
    conditions.add_column(name="tag", description="what was in the bath")
    nwbfile.add_icephys_experimental_condition(repetitions=[first], tag=f"control{text}")
    nwbfile.add_icephys_experimental_condition(repetitions=[second], tag=f"drug{text}")
    path = Path(path)
    partial = path.with_name(f".{path.stem}.{os.getpid()}.partial.nwb")
    with NWBHDF5IO(str(partial), "w") as io:
        io.write(nwbfile)
    partial.replace(path)
    return path
