"""EDF/EDF+/BDF/BDF+ recordings: header, channels, annotations and windowed reads for the traces view.

Local files and http(s)/s3/gs/dandi URLs (read by range, never downloaded whole), through the
same address policy as NWB files. Windows come back as ``engines.nwb.extract.TraceWindow``.
"""

from engines.edf._header import EdfChannel, EdfHeader
from engines.edf._tal import Annotation
from engines.edf.edffile import EdfFile, open_edf
from engines.edf.errors import EdfOpenError, EdfRequestError

__all__ = [
    "open_edf",
    "EdfFile",
    "EdfHeader",
    "EdfChannel",
    "Annotation",
    "EdfOpenError",
    "EdfRequestError",
]
