"""Whatever a file holds, reading it gives rows or one line of InvalidInput: never another
exception, never a number JSON cannot store, never a line of the file beyond its own cells."""

from __future__ import annotations

import json
import math
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from states.errors import InvalidInput
from states.staging.evidence import Source
from states.staging.readers import Limits, read_evidence

SETTINGS = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SOURCES = st.sampled_from(list(Source))
LIMITS = Limits(max_mb=1, max_rows=50)
NUMBERS = st.one_of(
    st.sampled_from(["inf", "-inf", "nan", "NaN", "Infinity", "1e400", "9" * 5000, "-0", "1e-400"]),
    st.integers(min_value=0, max_value=10**25),
    st.floats(min_value=0, allow_infinity=True),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
)
DAYS = st.one_of(st.dates().map(str), st.dates().map(str), st.sampled_from(["", "2026-13-01"]))
WORDS = st.text(alphabet="abcXYZ019 -_.", max_size=12)
# per source, each column's cells: mostly of the right kind, so that rows get through
COLUMNS = {
    Source.PATCHES: {"device": WORDS, "missing_critical": NUMBERS, "missing_total": NUMBERS,
                     "last_scan": DAYS},
    Source.SECURE_SCORE: {"measured_on": DAYS, "score": NUMBERS, "max_score": NUMBERS},
    Source.TICKETS: {"id": WORDS | NUMBERS, "opened": DAYS, "closed": DAYS, "priority": WORDS,
                     "sla_met": st.sampled_from(["yes", "no", "", "1", "x"]),
                     "satisfaction": NUMBERS},
}  # fmt: skip


def export_rows(source: Source) -> st.SearchStrategy[list[dict[str, object]]]:
    return st.lists(st.fixed_dictionaries(COLUMNS[source]), min_size=1, max_size=3)


def read(tmp_path: Path, name: str, content: bytes, source: Source | None = None) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    try:
        rows = read_evidence(path, source, LIMITS).rows
    except InvalidInput as refused:
        message = str(refused)
        assert "\n" not in message
        return
    for row in rows:  # what is kept stores as strict JSON: no inf, nan or huge numbers
        for value in row.model_dump().values():
            assert not isinstance(value, float) or math.isfinite(value)
            assert not isinstance(value, int) or abs(value) <= 10**9


@SETTINGS
@given(source=SOURCES, content=st.binary(max_size=2000))
def test_any_bytes_read_as_rows_or_refused(tmp_path: Path, source: Source, content: bytes) -> None:
    read(tmp_path, f"{source.value}.csv", content)
    read(tmp_path, f"{source.value}.json", content)


@SETTINGS
@given(source=SOURCES, content=st.text(max_size=2000))
def test_any_text_reads_as_rows_or_refused(tmp_path: Path, source: Source, content: str) -> None:
    read(tmp_path, f"{source.value}.csv", content.encode("utf-8", "surrogatepass"))
    read(tmp_path, f"{source.value}.json", content.encode("utf-8", "surrogatepass"))


@SETTINGS
@given(data=st.data(), source=st.sampled_from(list(COLUMNS)))
def test_any_numbers_in_an_export_read_as_rows_or_refused(
    tmp_path: Path, data: st.DataObject, source: Source
) -> None:
    rows = data.draw(export_rows(source))
    header = ",".join(COLUMNS[source])
    lines = [",".join(str(cell).replace(",", "") for cell in row.values()) for row in rows]
    read(tmp_path, f"{source.value}.csv", "\n".join([header, *lines]).encode())
    as_json = json.dumps(rows, allow_nan=True)
    read(tmp_path, f"{source.value}.json", as_json.encode())


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | NUMBERS | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@SETTINGS
@given(source=st.sampled_from(list(COLUMNS)), document=st.lists(JSON_VALUES) | JSON_VALUES)
def test_any_json_reads_as_rows_or_refused(
    tmp_path: Path, source: Source, document: object
) -> None:
    text = json.dumps(document, allow_nan=True)
    read(tmp_path, f"{source.value}.json", text.encode("utf-8", "surrogatepass"))
