"""Parse the fixed-size EDF/BDF header: 256 bytes, then 256 bytes per signal, all ASCII fields.

The header fixes where every sample lies: data records of ``record_bytes`` follow the header
back to back, and inside each record signal ``i`` holds ``samples_per_record[i]`` samples of 2
bytes (EDF, int16) or 3 bytes (BDF, int24), little-endian. So any time window is a known
byte range, which is what makes remote reads by range simple.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from engines.edf.errors import EdfOpenError

__all__ = ["EdfChannel", "EdfHeader", "FIXED_BYTES", "SIGNAL_BYTES", "parse_fixed", "parse_header"]

FIXED_BYTES = 256
SIGNAL_BYTES = 256
BDF_VERSION = b"\xffBIOSEMI"
ANNOTATION_LABELS = ("EDF Annotations", "BDF Annotations")

_SIGNAL_FIELDS = (
    ("label", 16),
    ("transducer", 80),
    ("unit", 8),
    ("physical_min", 8),
    ("physical_max", 8),
    ("digital_min", 8),
    ("digital_max", 8),
    ("prefiltering", 80),
    ("samples_per_record", 8),
    ("reserved", 32),
)


@dataclass(frozen=True)
class EdfChannel:
    """One signal: its label and unit, sampling rate, physical and digital ranges.

    ``index`` is its position among all signals of the file (annotation signals included);
    ``offset`` the byte offset of its samples inside a data record.
    """

    index: int
    label: str
    unit: str
    transducer: str
    prefiltering: str
    sampling_rate: float
    samples_per_record: int
    physical_min: float
    physical_max: float
    digital_min: int
    digital_max: int
    offset: int
    is_annotation: bool

    @property
    def gain(self) -> float:
        """Physical units per digital step."""
        span = self.digital_max - self.digital_min
        return (self.physical_max - self.physical_min) / span if span else 1.0

    @property
    def physical_offset(self) -> float:
        """physical = digital * gain + physical_offset."""
        return self.physical_min - self.digital_min * self.gain


@dataclass(frozen=True)
class EdfHeader:
    """What the header says about the whole file."""

    format: str
    """"EDF", "EDF+C", "EDF+D", "BDF", "BDF+C" or "BDF+D"."""
    patient: str
    recording: str
    start: datetime | None
    header_bytes: int
    n_records: int
    record_duration: float
    sample_bytes: int
    channels: list[EdfChannel] = field(default_factory=list)

    @property
    def record_bytes(self) -> int:
        return sum(c.samples_per_record for c in self.channels) * self.sample_bytes

    @property
    def discontinuous(self) -> bool:
        return self.format.endswith("+D")

    @property
    def duration(self) -> float:
        return self.n_records * self.record_duration

    @property
    def data_bytes(self) -> int:
        return self.n_records * self.record_bytes


def _text(raw: bytes) -> str:
    return raw.decode("latin-1").strip()


def _number(raw: bytes, what: str, integer: bool = False) -> float:
    text = _text(raw)
    try:
        return int(text) if integer else float(text)
    except ValueError:
        raise EdfOpenError(
            f"The header's {what} field holds '{text}', not a number: the file is damaged or not EDF/BDF."
        ) from None


def _start(date: bytes, clock: bytes) -> datetime | None:
    try:
        day, month, year = (int(p) for p in _text(date).split("."))
        hour, minute, second = (int(p) for p in _text(clock).split("."))
        return datetime(year + (2000 if year < 85 else 1900), month, day, hour, minute, second)
    except ValueError:
        return None  # an unreadable start date does not stop the data from being read


def parse_fixed(data: bytes, label: str) -> tuple[bool, int]:
    """From the first 256 bytes: (is BDF, number of signals). Raises ``EdfOpenError``."""
    if len(data) < FIXED_BYTES:
        raise EdfOpenError(f"{label} is only {len(data)} bytes long; an EDF/BDF header alone is 256 bytes.")
    version = data[:8]
    if version not in (b"0       ", BDF_VERSION):
        raise EdfOpenError(
            f"{label} is not an EDF or BDF file (its first bytes are {version!r}, not '0' or the "
            "BIOSEMI mark). Open EDF (.edf) or BDF (.bdf) recordings here."
        )
    n_signals = int(_number(data[252:256], "number of signals", integer=True))
    if n_signals < 1:
        raise EdfOpenError(f"{label} declares {n_signals} signals; the header is damaged.")
    return version == BDF_VERSION, n_signals


def _parse_channels(
    data: bytes, label: str, n_signals: int, duration: float, sample_bytes: int, annotated: bool
) -> list[EdfChannel]:
    """The signal headers, which the file stores field by field (every label, then every unit...).

    ``annotated``: an EDF+/BDF+ file, whose "EDF Annotations" signals hold annotations, not samples.
    """
    fields: dict[str, list[bytes]] = {}
    pos = FIXED_BYTES
    for name, width in _SIGNAL_FIELDS:
        fields[name] = [data[pos + i * width : pos + (i + 1) * width] for i in range(n_signals)]
        pos += width * n_signals
    channels, offset = [], 0
    for i in range(n_signals):
        per_record = int(_number(fields["samples_per_record"][i], f"samples per record of signal {i}", True))
        if per_record < 0:
            raise EdfOpenError(
                f"{label}: signal {i} has {per_record} samples per record; the header is damaged."
            )
        name = _text(fields["label"][i])
        channels.append(
            EdfChannel(
                index=i,
                label=name,
                unit=_text(fields["unit"][i]),
                transducer=_text(fields["transducer"][i]),
                prefiltering=_text(fields["prefiltering"][i]),
                sampling_rate=per_record / duration if duration > 0 else 0.0,
                samples_per_record=per_record,
                physical_min=_number(fields["physical_min"][i], f"physical minimum of signal {i}"),
                physical_max=_number(fields["physical_max"][i], f"physical maximum of signal {i}"),
                digital_min=int(_number(fields["digital_min"][i], f"digital minimum of signal {i}", True)),
                digital_max=int(_number(fields["digital_max"][i], f"digital maximum of signal {i}", True)),
                offset=offset,
                is_annotation=annotated and name in ANNOTATION_LABELS,
            )
        )
        offset += per_record * sample_bytes
    return channels


def parse_header(data: bytes, label: str, file_size: int) -> EdfHeader:
    """The header from the file's first bytes (at least 256 × (signals + 1)). Raises ``EdfOpenError``."""
    is_bdf, n_signals = parse_fixed(data, label)
    header_bytes = int(_number(data[184:192], "header size", integer=True))
    if header_bytes != FIXED_BYTES + SIGNAL_BYTES * n_signals:
        raise EdfOpenError(
            f"{label} declares a {header_bytes}-byte header for {n_signals} signals "
            f"(should be {FIXED_BYTES + SIGNAL_BYTES * n_signals}); the header is damaged."
        )
    if len(data) < header_bytes:
        raise EdfOpenError(f"{label} ends inside its header ({len(data)} of {header_bytes} bytes).")
    reserved = _text(data[192:236])
    kind = "BDF" if is_bdf else "EDF"
    plus = reserved[:5] if reserved[:5] in ("EDF+C", "EDF+D", "BDF+C", "BDF+D") else ""
    fmt = kind + plus[3:] if plus else kind
    duration = _number(data[244:252], "record duration")
    if duration < 0:
        raise EdfOpenError(f"{label} declares records of {duration} s; the header is damaged.")
    sample_bytes = 3 if is_bdf else 2
    channels = _parse_channels(data, label, n_signals, duration, sample_bytes, annotated=bool(plus))
    record_bytes = sum(c.samples_per_record for c in channels) * sample_bytes
    declared = int(_number(data[236:244], "number of data records", integer=True))
    available = (file_size - header_bytes) // record_bytes if record_bytes else 0
    n_records = available if declared < 0 else declared  # -1: recording not closed; count what is there
    return EdfHeader(
        format=fmt,
        patient=_text(data[8:88]),
        recording=_text(data[88:168]),
        start=_start(data[168:176], data[176:184]),
        header_bytes=header_bytes,
        n_records=n_records,
        record_duration=duration,
        sample_bytes=sample_bytes,
        channels=channels,
    )
