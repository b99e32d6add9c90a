"""Evidence files: every source read from CSV and JSON; every malformed file refused in one line."""

from __future__ import annotations

import codecs
import hashlib
import json
from datetime import date
from pathlib import Path

import pytest

from states.errors import InvalidInput
from states.staging.evidence import (
    BackupJob,
    DarkWebBreach,
    EndpointProtection,
    EvidenceRow,
    NetworkDevice,
    PatchStatus,
    PhishingResult,
    PrivilegedMember,
    SecureScore,
    Source,
    Ticket,
    WarrantyAsset,
)
from states.staging.readers import discover, read_evidence, source_of

DEMO = Path(__file__).resolve().parents[2] / "deploy" / "demo_evidence"
D = date.fromisoformat
JANE = "jane.doe@acmedental.example"

# Per source: a header, two data rows as an export writes them, and the rows they must become.
GOOD: dict[Source, tuple[list[str], list[list[str]], list[EvidenceRow]]] = {
    Source.PATCHES: (
        ["device", "missing_critical", "missing_total", "last_scan"],
        [["ACME-WS01", "0", "3", "2026-08-09"], ["ACME-SRV01", "2", "5", ""]],
        [
            PatchStatus(
                device="ACME-WS01", missing_critical=0, missing_total=3, last_scan=D("2026-08-09")
            ),
            PatchStatus(device="ACME-SRV01", missing_critical=2, missing_total=5),
        ],
    ),
    Source.ANTIVIRUS: (
        ["device", "agent_present", "definitions_date", "detections"],
        [["ACME-WS01", "yes", "2026-08-09", "1"], ["ACME-WS02", "No", "", ""]],
        [
            EndpointProtection(
                device="ACME-WS01",
                agent_present=True,
                definitions_date=D("2026-08-09"),
                detections=1,
            ),
            EndpointProtection(device="ACME-WS02", agent_present=False),
        ],
    ),
    Source.WARRANTY: (
        ["asset", "model", "purchase_date", "warranty_end"],
        [
            ["ACME-WS01", "Dell OptiPlex 7010", "2023-02-12", "2027-02-12"],
            ["ACME-SRV02", "", "2019-06-24", ""],
        ],
        [
            WarrantyAsset(
                asset="ACME-WS01",
                model="Dell OptiPlex 7010",
                purchase_date=D("2023-02-12"),
                warranty_end=D("2027-02-12"),
            ),
            WarrantyAsset(asset="ACME-SRV02", purchase_date=D("2019-06-24")),
        ],
    ),
    Source.DARKWEB: (
        ["email", "breach", "breach_date", "discovered"],
        [
            [JANE, "Canva", "2019-05-24", "2026-03-02"],
            ["frontdesk@acmedental.example", "Combolist", "", "2026-06-29"],
        ],
        [
            DarkWebBreach(
                email=JANE, breach="Canva", breach_date=D("2019-05-24"), discovered=D("2026-03-02")
            ),
            DarkWebBreach(
                email="frontdesk@acmedental.example", breach="Combolist", discovered=D("2026-06-29")
            ),
        ],
    ),
    Source.PHISHING: (
        ["campaign", "sent", "user", "clicked", "reported"],
        [
            ["2026-07 Parcel", "2026-07-14", JANE, "true", "0"],
            ["2026-07 Parcel", "2026-07-14", "sam@acme", "0", ""],
        ],
        [
            PhishingResult(
                campaign="2026-07 Parcel", sent=D("2026-07-14"), user=JANE, clicked=True
            ),
            PhishingResult(
                campaign="2026-07 Parcel", sent=D("2026-07-14"), user="sam@acme", clicked=False
            ),
        ],
    ),
    Source.SECURE_SCORE: (
        ["measured_on", "score", "max_score"],
        [["2026-07-10", "93.6", "212"], ["2026-08-10", "101.8", "212.0"]],
        [
            SecureScore(measured_on=D("2026-07-10"), score=93.6, max_score=212),
            SecureScore(measured_on=D("2026-08-10"), score=101.8, max_score=212),
        ],
    ),
    Source.NETWORK: (
        ["ip", "mac", "hostname", "first_seen"],
        [
            ["10.20.0.1", "00:1A:2B:22:AE:F6", "ACME-FW01", "2025-11-03"],
            ["10.20.0.41", "00:1A:2B:7C:10:E4", "", ""],
        ],
        [
            NetworkDevice(
                ip="10.20.0.1",
                mac="00:1A:2B:22:AE:F6",
                hostname="ACME-FW01",
                first_seen=D("2025-11-03"),
            ),
            NetworkDevice(ip="10.20.0.41", mac="00:1A:2B:7C:10:E4"),
        ],
    ),
    Source.PRIVILEGED: (
        ["group", "account"],
        [["Domain Admins", "Administrator"], ["Domain Admins", "msp-admin"]],
        [
            PrivilegedMember(group="Domain Admins", account="Administrator"),
            PrivilegedMember(group="Domain Admins", account="msp-admin"),
        ],
    ),
    Source.TICKETS: (
        ["id", "opened", "closed", "priority", "sla_met", "satisfaction"],
        [
            ["48213", "2026-07-01", "2026-07-02", "P3", "yes", "5"],
            ["48214", "2026-07-30", "", "P2", "", ""],
        ],
        [
            Ticket(
                id="48213",
                opened=D("2026-07-01"),
                closed=D("2026-07-02"),
                priority="P3",
                sla_met=True,
                satisfaction=5,
            ),
            Ticket(id="48214", opened=D("2026-07-30"), priority="P2"),
        ],
    ),
    Source.BACKUPS: (
        ["job", "device", "last_run", "last_result"],
        [
            ["Dentrix database", "ACME-SRV01", "2026-08-09", "Success"],
            ["M365 Exchange", "", "2026-08-10", "FAILED"],
        ],
        [
            BackupJob(
                job="Dentrix database",
                device="ACME-SRV01",
                last_run=D("2026-08-09"),
                last_result="success",
            ),
            BackupJob(job="M365 Exchange", last_run=D("2026-08-10"), last_result="failed"),
        ],
    ),
}

# A required column per source, emptied or left out of the header.
REQUIRED = {
    Source.PATCHES: "missing_critical",
    Source.ANTIVIRUS: "agent_present",
    Source.WARRANTY: "purchase_date",
    Source.DARKWEB: "discovered",
    Source.PHISHING: "user",
    Source.SECURE_SCORE: "max_score",
    Source.NETWORK: "mac",
    Source.PRIVILEGED: "account",
    Source.TICKETS: "opened",
    Source.BACKUPS: "last_result",
}

# (source, column, value in a CSV cell, words of the reason); privileged has only text columns.
BAD_CSV_VALUES = [
    (Source.PATCHES, "missing_critical", "abc", "must be a whole number >= 0 (got 'abc')"),
    (Source.PATCHES, "missing_total", "-1", "must be a whole number >= 0 (got '-1')"),
    (Source.ANTIVIRUS, "agent_present", "maybe", "must be yes or no"),
    (Source.ANTIVIRUS, "detections", "2.5", "must be a whole number >= 0 (got '2.5')"),
    (Source.WARRANTY, "warranty_end", "soon", "must be a date"),
    (Source.DARKWEB, "email", "ab", "must be at least 3 characters (got 'ab')"),
    (Source.PHISHING, "clicked", "perhaps", "must be yes or no"),
    (Source.SECURE_SCORE, "score", "high", "must be a number >= 0 (got 'high')"),
    (Source.SECURE_SCORE, "max_score", "0", "must be a number > 0 (got '0')"),
    (Source.NETWORK, "first_seen", "yesterday", "must be a date"),
    (Source.TICKETS, "satisfaction", "7", "must be a whole number from 1 to 5 (got '7')"),
    (Source.TICKETS, "sla_met", "late", "must be yes or no"),
    (Source.BACKUPS, "last_result", "ok", "must be success, warning or failed (got 'ok')"),
]

# (source, column, JSON value of the wrong type, words of the reason): one for every source.
BAD_JSON_VALUES = [
    (Source.PATCHES, "missing_critical", "three", "must be a whole number >= 0"),
    (Source.ANTIVIRUS, "agent_present", [True], "must be yes or no"),
    (Source.WARRANTY, "asset", [42], "must be text (got [42])"),
    (Source.DARKWEB, "breach", {"name": "Canva"}, "must be text"),
    (Source.PHISHING, "sent", 2026, "must be a date"),
    (Source.SECURE_SCORE, "score", "n/a", "must be a number >= 0"),
    (Source.NETWORK, "ip", {"v4": 167772161}, "must be text"),
    (Source.PRIVILEGED, "group", ["Domain Admins"], "must be text"),
    (Source.TICKETS, "satisfaction", 4.5, "must be a whole number from 1 to 5"),
    (Source.BACKUPS, "last_result", True, "must be text"),
]

# A date column per source (privileged has none).
DATE_COLUMNS = {
    Source.PATCHES: "last_scan",
    Source.ANTIVIRUS: "definitions_date",
    Source.WARRANTY: "purchase_date",
    Source.DARKWEB: "breach_date",
    Source.PHISHING: "sent",
    Source.SECURE_SCORE: "measured_on",
    Source.NETWORK: "first_seen",
    Source.TICKETS: "closed",
    Source.BACKUPS: "last_run",
}


def csv_text(header: list[str], rows: list[list[str]], delimiter: str = ",") -> str:
    return "\n".join(delimiter.join(cells) for cells in [header, *rows]) + "\n"


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def good_json(source: Source) -> str:
    return json.dumps([row.model_dump(mode="json") for row in GOOD[source][2]], indent=2)


def refusal(path: Path, source: Source | None = None) -> str:
    with pytest.raises(InvalidInput) as caught:
        read_evidence(path, source)
    message = str(caught.value)
    assert "\n" not in message, message
    return message


def with_cell(source: Source, row: int, column: str, value: str) -> str:
    header, rows, _ = GOOD[source]
    changed = [list(cells) for cells in rows]
    changed[row][header.index(column)] = value
    return csv_text(header, changed)


# --- good files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("source", list(Source))
def test_csv_of_every_source_reads_into_its_rows(tmp_path: Path, source: Source) -> None:
    header, rows, expected = GOOD[source]
    path = write(tmp_path, f"{source.value}-2026-08.csv", csv_text(header, rows))
    evidence = read_evidence(path)
    assert (evidence.source, evidence.path, evidence.rows) == (source, path, expected)
    assert evidence.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("source", list(Source))
def test_json_of_every_source_reads_into_its_rows(tmp_path: Path, source: Source) -> None:
    path = write(tmp_path, f"{source.value}.json", good_json(source))
    evidence = read_evidence(path)
    assert (evidence.source, evidence.rows) == (source, GOOD[source][2])


def test_header_names_are_matched_loosely_and_unknown_columns_ignored(tmp_path: Path) -> None:
    text = (
        "  Device ,Missing Critical,missing-total,LAST SCAN,Site\nACME-WS01,0,3,2026-08-09,Main\n"
    )
    rows = read_evidence(write(tmp_path, "patches.csv", text)).rows
    assert rows == GOOD[Source.PATCHES][2][:1]


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    header, rows, expected = GOOD[Source.PATCHES]
    content = codecs.BOM_UTF8 + csv_text(header, rows).encode("utf-8")
    assert read_evidence(write(tmp_path, "patches.csv", content)).rows == expected


@pytest.mark.parametrize("bom", [b"", codecs.BOM_UTF8])
def test_semicolons_delimit_when_the_header_has_no_commas(tmp_path: Path, bom: bytes) -> None:
    header, rows, expected = GOOD[Source.SECURE_SCORE]
    content = bom + csv_text(header, rows, delimiter=";").encode("utf-8")
    assert read_evidence(write(tmp_path, "securescore.csv", content)).rows == expected


def test_quoted_cells_windows_line_ends_and_blank_lines(tmp_path: Path) -> None:
    text = (
        "job,device,last_run,last_result\r\n\r\n"
        '"Files, shares",ACME-SRV02,2026-08-09,success\r\n,,,\r\n'
    )
    rows = read_evidence(write(tmp_path, "backups.csv", text)).rows
    assert rows == [
        BackupJob(
            job="Files, shares",
            device="ACME-SRV02",
            last_run=D("2026-08-09"),
            last_result="success",
        )
    ]


def test_a_short_row_reads_its_missing_trailing_cells_as_blank(tmp_path: Path) -> None:
    text = "device,missing_critical,missing_total,last_scan\nACME-WS01,0,3\n"
    rows = read_evidence(write(tmp_path, "patches.csv", text)).rows
    assert rows == [PatchStatus(device="ACME-WS01", missing_critical=0, missing_total=3)]


@pytest.mark.parametrize("source", list(Source))
def test_a_header_without_rows_is_an_empty_report(tmp_path: Path, source: Source) -> None:
    path = write(tmp_path, f"{source.value}.csv", csv_text(GOOD[source][0], []))
    assert read_evidence(path).rows == []


def test_an_empty_json_list_is_an_empty_report(tmp_path: Path) -> None:
    assert read_evidence(write(tmp_path, "darkweb.json", "[]")).rows == []


@pytest.mark.parametrize("wrapper", ["rows", "data", "items", "value"])
def test_json_rows_may_be_wrapped_in_an_object(tmp_path: Path, wrapper: str) -> None:
    items = json.loads(good_json(Source.SECURE_SCORE))
    text = json.dumps({"@odata.context": "https://graph.example/$metadata", wrapper: items})
    assert (
        read_evidence(write(tmp_path, "securescore.json", text)).rows
        == GOOD[Source.SECURE_SCORE][2]
    )


def test_json_keys_and_strings_read_like_csv_cells(tmp_path: Path) -> None:
    item = {"Device": "ACME-WS01", "Missing Critical": "0", "missing-total": 3, "last_scan": None}
    rows = read_evidence(write(tmp_path, "patches.json", json.dumps([item]))).rows
    assert rows == [PatchStatus(device="ACME-WS01", missing_critical=0, missing_total=3)]


def test_source_override_reads_a_file_of_any_name(tmp_path: Path) -> None:
    header, rows, expected = GOOD[Source.TICKETS]
    path = write(tmp_path, "ConnectWise export (3).csv", csv_text(header, rows))
    evidence = read_evidence(path, Source.TICKETS)
    assert (evidence.source, evidence.rows) == (Source.TICKETS, expected)


def test_source_override_wins_over_the_name(tmp_path: Path) -> None:
    path = write(tmp_path, "patches.csv", "group,account\nDomain Admins,Administrator\n")
    assert read_evidence(path, Source.PRIVILEGED).source is Source.PRIVILEGED


# --- malformed files ----------------------------------------------------------------------------


@pytest.mark.parametrize(("source", "column", "value", "reason"), BAD_CSV_VALUES)
def test_a_bad_value_names_file_row_column_and_reason(
    tmp_path: Path, source: Source, column: str, value: str, reason: str
) -> None:
    path = write(tmp_path, f"{source.value}.csv", with_cell(source, 1, column, value))
    message = refusal(path)
    assert message.startswith(f"{source.value}.csv row 3, column {column}: {reason}")
    assert message.endswith("; fix the file and import it again")


def test_the_message_of_the_brief(tmp_path: Path) -> None:
    header, rows, _ = GOOD[Source.PATCHES]
    rows = [*rows, *([["ACME-WS09", "0", "0", ""]] * 3), ["ACME-WS14", "abc", "1", ""]]
    message = refusal(write(tmp_path, "patches.csv", csv_text(header, rows)))
    assert message == (
        "patches.csv row 7, column missing_critical: must be a whole number >= 0 (got 'abc'); "
        "fix the file and import it again"
    )


@pytest.mark.parametrize(("source", "column", "value", "reason"), BAD_JSON_VALUES)
def test_a_value_of_the_wrong_type_in_json_names_the_item(
    tmp_path: Path, source: Source, column: str, value: object, reason: str
) -> None:
    items = json.loads(good_json(source))
    items[1][column] = value
    message = refusal(write(tmp_path, f"{source.value}.json", json.dumps({"rows": items})))
    assert message.startswith(f"{source.value}.json item 2, column {column}: {reason}")


@pytest.mark.parametrize("source", list(Source))
def test_a_missing_required_column_names_it(tmp_path: Path, source: Source) -> None:
    header, rows, _ = GOOD[source]
    drop = header.index(REQUIRED[source])
    text = csv_text(header[:drop] + header[drop + 1 :], [r[:drop] + r[drop + 1 :] for r in rows])
    message = refusal(write(tmp_path, f"{source.value}.csv", text))
    assert message.startswith(
        f"{source.value}.csv row 1: column {REQUIRED[source]} is missing from the header"
    )


@pytest.mark.parametrize("source", list(Source))
def test_a_missing_required_key_in_json_names_it(tmp_path: Path, source: Source) -> None:
    items = json.loads(good_json(source))
    del items[0][REQUIRED[source]]
    message = refusal(write(tmp_path, f"{source.value}.json", json.dumps(items)))
    assert message.startswith(f"{source.value}.json item 1, column {REQUIRED[source]}: is required")


@pytest.mark.parametrize("source", list(Source))
def test_an_extra_cell_names_row_and_column(tmp_path: Path, source: Source) -> None:
    header, rows, _ = GOOD[source]
    text = csv_text(header, [rows[0], [*rows[1], "surplus"]])
    message = refusal(write(tmp_path, f"{source.value}.csv", text))
    assert message.startswith(
        f"{source.value}.csv row 3, column {len(header) + 1}: an extra cell ('surplus')"
    )


@pytest.mark.parametrize("source", list(Source))
@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_required_cell_names_row_and_column(
    tmp_path: Path, source: Source, blank: str
) -> None:
    column = REQUIRED[source]
    message = refusal(write(tmp_path, f"{source.value}.csv", with_cell(source, 0, column, blank)))
    assert message.startswith(
        f"{source.value}.csv row 2, column {column}: is required and may not be empty"
    )


@pytest.mark.parametrize("source", list(Source))
def test_a_null_required_value_in_json_names_it(tmp_path: Path, source: Source) -> None:
    items = json.loads(good_json(source))
    items[1][REQUIRED[source]] = None
    message = refusal(write(tmp_path, f"{source.value}.json", json.dumps(items)))
    assert message.startswith(f"{source.value}.json item 2, column {REQUIRED[source]}: is required")


@pytest.mark.parametrize("source", list(DATE_COLUMNS))
@pytest.mark.parametrize("bad", ["21/08/2026", "2026-13-01", "2026-08-10 14:30"])
def test_a_bad_date_names_row_and_column(tmp_path: Path, source: Source, bad: str) -> None:
    column = DATE_COLUMNS[source]
    message = refusal(write(tmp_path, f"{source.value}.csv", with_cell(source, 1, column, bad)))
    assert message.startswith(f"{source.value}.csv row 3, column {column}: must be a date")
    assert f"(got {bad!r})" in message


def test_row_numbers_are_line_numbers_counting_blank_lines(tmp_path: Path) -> None:
    text = "device,missing_critical,missing_total\n\nACME-WS01,0,0\n\n\nACME-WS02,x,0\n"
    assert refusal(write(tmp_path, "patches.csv", text)).startswith(
        "patches.csv row 6, column missing_critical:"
    )


def test_a_long_value_is_shortened_in_the_message(tmp_path: Path) -> None:
    message = refusal(
        write(tmp_path, "patches.csv", with_cell(Source.PATCHES, 0, "missing_total", "x" * 80))
    )
    assert "(got '" + "x" * 36 + "...)" in message


def test_a_column_named_twice_is_refused(tmp_path: Path) -> None:
    text = "group,Account,account\nDomain Admins,a,b\n"
    message = refusal(write(tmp_path, "privileged.csv", text))
    assert message.startswith("privileged.csv row 1: column account appears twice in the header")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("patches.csv", ""),
        ("patches.csv", "\n\r\n  \n"),
        ("darkweb.json", ""),
        ("darkweb.json", " \n"),
    ],
)
def test_an_empty_file_is_refused(tmp_path: Path, name: str, content: str) -> None:
    assert refusal(write(tmp_path, name, content)).startswith(f"{name} is empty")


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('[{"device": "ACME-WS01",}]', "line 1, column 25"),
        ('[\n  {"device": "ACME-WS01"\n  {"device": "ACME-WS02"}\n]', "line 3, column 3"),
        ("device,missing_critical\nACME-WS01,0", "line 1, column 1"),
    ],
)
def test_invalid_json_names_line_and_column(tmp_path: Path, text: str, where: str) -> None:
    message = refusal(write(tmp_path, "patches.json", text))
    assert message.startswith(f"patches.json {where}: invalid JSON")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"device": "ACME-WS01"}', "patches.json: must be a JSON list of objects"),
        ('{"rows": [], "data": []}', "patches.json: must be a JSON list of objects"),
        ('"patches"', "patches.json: must be a JSON list of objects"),
        (
            '[{"device": "ACME-WS01", "missing_critical": 0, "missing_total": 0}, 7]',
            "patches.json item 2: must be an object",
        ),
    ],
)
def test_json_of_the_wrong_shape_is_refused(tmp_path: Path, text: str, expected: str) -> None:
    assert refusal(write(tmp_path, "patches.json", text)).startswith(expected)


def test_a_file_not_in_utf8_is_refused_with_the_fix(tmp_path: Path) -> None:
    content = "asset,model,purchase_date\nACME-WS01,Café PC,2023-02-12\n".encode("latin-1")
    message = refusal(write(tmp_path, "warranty.csv", content))
    assert message.startswith("warranty.csv line 2: not UTF-8 (byte 0xe9)")
    assert "save the file as UTF-8" in message


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "patches.csv"
    assert refusal(path).startswith(f"{path}: no such file")


def test_a_shell_pattern_that_matched_nothing_is_named_as_one(tmp_path: Path) -> None:
    path = tmp_path / "exports" / "*.csv"  # the shell passes an unmatched pattern as it is
    said = refusal(path)
    assert said.startswith(f"{path}: no such file (a pattern that matched no file?)")
    assert "the name does not say" not in said


def test_a_file_that_is_neither_csv_nor_json_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "patches.xlsx", "PK")
    assert refusal(path).startswith("patches.xlsx: evidence must be a .csv or .json file")


# --- names and folders --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "source"),
    [
        ("patches.csv", Source.PATCHES),
        ("patches-2026-11.json", Source.PATCHES),
        ("Antivirus_export.CSV", Source.ANTIVIRUS),
        ("SecureScore.2026-11.json", Source.SECURE_SCORE),
        ("DARKWEB.JSON", Source.DARKWEB),
        ("tickets_q3 (1).csv", Source.TICKETS),
        ("backups", Source.BACKUPS),
    ],
)
def test_the_name_says_the_source(name: str, source: Source) -> None:
    assert source_of(Path("evidence") / name) is source


@pytest.mark.parametrize(
    "name", ["export.csv", "patchesX.csv", "my-patches.csv", "patch.csv", "av.json"]
)
def test_an_unknown_name_lists_the_sources_and_the_option(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        source_of(Path(name))
    message = str(caught.value)
    assert message.startswith(f"{name}: ")
    assert all(source.value in message for source in Source)
    assert "--source" in message
    path = write(tmp_path, name, csv_text(*GOOD[Source.PATCHES][:2]))
    assert refusal(path) == message


def test_discover_finds_evidence_files_and_ignores_the_rest(tmp_path: Path) -> None:
    for name in [
        "patches.csv",
        "Tickets_Q3.JSON",
        "backups-2026-08.csv",
        "notes.txt",
        "summary.csv",
        "patches.xlsx",
    ]:
        write(tmp_path, name, "")
    (tmp_path / "darkweb.json").mkdir()
    assert discover(tmp_path) == [
        tmp_path / "Tickets_Q3.JSON",
        tmp_path / "backups-2026-08.csv",
        tmp_path / "patches.csv",
    ]


def test_discover_of_a_missing_folder_is_empty(tmp_path: Path) -> None:
    assert discover(tmp_path / "no-such-client") == []


@pytest.mark.parametrize(
    ("first", "second"),
    [("patches.csv", "patches-2026-11.json"), ("Backups.csv", "backups_old.CSV")],
)
def test_discover_refuses_two_files_of_one_source(tmp_path: Path, first: str, second: str) -> None:
    write(tmp_path, first, "")
    write(tmp_path, second, "")
    with pytest.raises(InvalidInput) as caught:
        discover(tmp_path)
    message = str(caught.value)
    assert first in message
    assert second in message
    assert "\n" not in message


# --- the demo client ----------------------------------------------------------------------------


@pytest.mark.parametrize("quarter", ["q1", "q2"])
def test_every_demo_evidence_file_reads(quarter: str) -> None:
    files = discover(DEMO / quarter)
    evidence = {f.source: f.rows for f in map(read_evidence, files)}
    assert set(evidence) == set(Source)
    assert all(evidence.values())


def test_the_demo_evidence_improves_from_q1_to_q2() -> None:
    q1, q2 = (
        {f.source: f.rows for f in map(read_evidence, discover(DEMO / q))} for q in ("q1", "q2")
    )

    def patched(rows: list[EvidenceRow]) -> float:
        return sum(isinstance(r, PatchStatus) and r.missing_critical == 0 for r in rows) / len(rows)

    def failed(rows: list[EvidenceRow]) -> int:
        return sum(isinstance(r, BackupJob) and r.last_result == "failed" for r in rows)

    assert patched(q1[Source.PATCHES]) < 0.8
    assert patched(q2[Source.PATCHES]) >= 0.95
    assert (failed(q1[Source.BACKUPS]), failed(q2[Source.BACKUPS])) == (2, 0)
    assert q1[Source.DARKWEB] == q2[Source.DARKWEB]
    assert set(q2[Source.PRIVILEGED]) < set(q1[Source.PRIVILEGED])
    assert len(q1[Source.PRIVILEGED]) - len(q2[Source.PRIVILEGED]) == 1
    assert set(q1[Source.NETWORK]) < set(q2[Source.NETWORK])


def test_numbers_in_text_columns_of_json_are_read_as_text(tmp_path: Path) -> None:
    items = json.loads(good_json(Source.TICKETS))
    items[0]["id"] = 48213  # PSA exports write ticket numbers as JSON numbers
    rows = read_evidence(write(tmp_path, "tickets.json", json.dumps(items))).rows
    assert rows[0].id == "48213"  # type: ignore[attr-defined]
