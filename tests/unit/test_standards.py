"""Standards as data: the shipped ones validate and cover their sources (the NIST CSF 2.0
core's 106 subcategories, every HIPAA Security Rule safeguard), and a broken file is refused
in one line naming the file, the item and the field."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest
import yaml

from states.errors import InvalidInput, NotFound
from states.standards.catalog import (
    load_standard_file,
    load_standards,
    pick_standard,
    shipped_standard_files,
)
from states.standards.schema import EVIDENCE_CHECKS, ITEM_CATEGORIES, ItemCategory

NIST_CSF_2 = [
    *(f"GV.OC-0{n}" for n in range(1, 6)), *(f"GV.RM-0{n}" for n in range(1, 8)),
    *(f"GV.RR-0{n}" for n in range(1, 5)), "GV.PO-01", "GV.PO-02",
    *(f"GV.OV-0{n}" for n in range(1, 4)), *(f"GV.SC-{n:02d}" for n in range(1, 11)),
    "ID.AM-01", "ID.AM-02", "ID.AM-03", "ID.AM-04", "ID.AM-05", "ID.AM-07", "ID.AM-08",
    *(f"ID.RA-{n:02d}" for n in range(1, 11)), *(f"ID.IM-0{n}" for n in range(1, 5)),
    *(f"PR.AA-0{n}" for n in range(1, 7)), "PR.AT-01", "PR.AT-02",
    "PR.DS-01", "PR.DS-02", "PR.DS-10", "PR.DS-11", *(f"PR.PS-0{n}" for n in range(1, 7)),
    *(f"PR.IR-0{n}" for n in range(1, 5)),
    "DE.CM-01", "DE.CM-02", "DE.CM-03", "DE.CM-06", "DE.CM-09",
    "DE.AE-02", "DE.AE-03", "DE.AE-04", "DE.AE-06", "DE.AE-07", "DE.AE-08",
    *(f"RS.MA-0{n}" for n in range(1, 6)), "RS.AN-03", "RS.AN-06", "RS.AN-07", "RS.AN-08",
    "RS.CO-02", "RS.CO-03", "RS.MI-01", "RS.MI-02",
    *(f"RC.RP-0{n}" for n in range(1, 7)), "RC.CO-03", "RC.CO-04",
]  # fmt: skip
# 45 CFR 164.308-316: each implementation specification, or the standard where it has none
HIPAA = {
    "164.308(a)(1)(ii)(A)": True, "164.308(a)(1)(ii)(B)": True, "164.308(a)(1)(ii)(C)": True,
    "164.308(a)(1)(ii)(D)": True, "164.308(a)(2)": True, "164.308(a)(3)(ii)(A)": False,
    "164.308(a)(3)(ii)(B)": False, "164.308(a)(3)(ii)(C)": False, "164.308(a)(4)(ii)(A)": True,
    "164.308(a)(4)(ii)(B)": False, "164.308(a)(4)(ii)(C)": False, "164.308(a)(5)(ii)(A)": False,
    "164.308(a)(5)(ii)(B)": False, "164.308(a)(5)(ii)(C)": False, "164.308(a)(5)(ii)(D)": False,
    "164.308(a)(6)(ii)": True, "164.308(a)(7)(ii)(A)": True, "164.308(a)(7)(ii)(B)": True,
    "164.308(a)(7)(ii)(C)": True, "164.308(a)(7)(ii)(D)": False, "164.308(a)(7)(ii)(E)": False,
    "164.308(a)(8)": True, "164.308(b)(1)": True,
    "164.310(a)(2)(i)": False, "164.310(a)(2)(ii)": False, "164.310(a)(2)(iii)": False,
    "164.310(a)(2)(iv)": False, "164.310(b)": True, "164.310(c)": True,
    "164.310(d)(2)(i)": True, "164.310(d)(2)(ii)": True, "164.310(d)(2)(iii)": False,
    "164.310(d)(2)(iv)": False,
    "164.312(a)(2)(i)": True, "164.312(a)(2)(ii)": True, "164.312(a)(2)(iii)": False,
    "164.312(a)(2)(iv)": False, "164.312(b)": True, "164.312(c)(2)": False, "164.312(d)": True,
    "164.312(e)(2)(i)": False, "164.312(e)(2)(ii)": False,
    "164.314(a)": True, "164.314(b)": True,
    "164.316(a)": True, "164.316(b)(1)": True, "164.316(b)(2)(i)": True,
    "164.316(b)(2)(ii)": True, "164.316(b)(2)(iii)": True,
}  # fmt: skip


def test_the_shipped_standards_validate() -> None:
    names = {load_standard_file(path).name for path in shipped_standard_files()}
    assert names == {"policy-procedure", "nist-csf-2", "hipaa-security"}


def test_nist_csf_2_asks_each_of_the_106_subcategories_grouped_by_function() -> None:
    standard = pick_standard(load_standards(), "nist-csf-2")
    assert len(NIST_CSF_2) == 106
    assert [i.id for i in standard.items] == NIST_CSF_2
    assert [g.id for g in standard.groups] == ["GV", "ID", "PR", "DE", "RS", "RC"]
    for item in standard.items:
        assert item.group == item.id[:2]
        assert item.references == {"nist-csf-2": [item.id]} or item.id in item.references.get(
            "nist-csf-2", []
        )
        assert item.question.endswith("?")


def test_hipaa_security_asks_each_safeguard_required_or_addressable() -> None:
    standard = pick_standard(load_standards(), "hipaa-security")
    assert {i.id: i.required for i in standard.items} == HIPAA
    for item in standard.items:
        assert item.id in item.references["hipaa"]
    groups = {i.id[:7]: i.group for i in standard.items}
    assert groups == {"164.308": "ADM", "164.310": "PHY", "164.312": "TEC", "164.314": "ORG",
                      "164.316": "DOC"}  # fmt: skip


def test_the_policy_and_procedure_mini_assessment_is_small() -> None:
    standard = pick_standard(load_standards(), "policy-procedure")
    assert 15 <= len(standard.items) <= 25
    words = " ".join(i.question.lower() for i in standard.items)
    for topic in ("acceptable use", "offboard", "onboard", "password", "multi-factor",
                  "backup", "restore", "incident", "patch", "vendor"):  # fmt: skip
        assert topic in words, topic


def test_the_categories_are_the_scorecards_and_governance_and_compliance() -> None:
    assert get_args(ItemCategory) == ITEM_CATEGORIES
    used = {i.evidence_check for s in load_standards().values() for i in s.items}
    assert used - {None} <= EVIDENCE_CHECKS
    assert used - {None}, "some items are answered by the evidence"


def _write(
    tmp_path: Path, change: dict[str, object], item: dict[str, object] | None = None
) -> Path:
    data: dict[str, object] = {
        "name": "mine", "title": "Mine", "framework": "none",
        "groups": [{"id": "POL", "title": "Policies"}],
        "items": [
            {"id": "POL-01", "group": "POL", "question": "Is there an AUP?",
             "category": "governance"},
            {"id": "POL-02", "group": "POL", "question": "Is MFA on?",
             "category": "identity_access", **(item or {})},
        ],
        **change,
    }  # fmt: skip
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "item", "message"),
    [
        ({}, {"severity": "purple"}, "item POL-02: severity: Input should be 'red' or 'amber'"),
        ({}, {"category": "vibes"}, "item POL-02: category: Input should be 'patching'"),
        ({}, {"weight": 9}, "item POL-02: weight: Input should be less than or equal to 3"),
        ({}, {"colour": "red"}, "item POL-02: colour: Extra inputs are not permitted"),
        ({}, {"evidence_check": "mind-reading"}, "evidence_check 'mind-reading' is not one of"),
        ({}, {"group": "HR"}, "item POL-02: group 'HR' is not declared; use one of POL"),
        ({}, {"id": "POL-01"}, "item POL-01: its id is used twice"),
        ({}, {"question": ""}, "item POL-02: question: String should have at least 1 character"),
        ({"name": "Not A Name"}, None, "name: String should match pattern"),
    ],
)
def test_a_broken_standard_names_the_file_the_item_and_the_field(
    tmp_path: Path, change: dict[str, object], item: dict[str, object] | None, message: str
) -> None:
    path = _write(tmp_path, change, item)
    with pytest.raises(InvalidInput) as refused:
        load_standard_file(path)
    assert str(refused.value).startswith(f"{path}: ")
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


def test_an_msps_own_standard_is_added_and_one_of_the_same_name_replaces_the_shipped(
    tmp_path: Path,
) -> None:
    own = tmp_path / "standards"
    own.mkdir()
    _write(tmp_path, {"name": "nist-csf-2"}).rename(own / "nist.yaml")
    _write(own, {})
    standards = load_standards([own])
    assert standards["nist-csf-2"].title == "Mine"
    assert standards["mine"].item("POL-02") is not None
    assert "policy-procedure" in standards
    with pytest.raises(NotFound, match="unknown standard 'iso'; use one of: "):
        pick_standard(standards, "iso")


def test_the_standard_commands_list_show_and_validate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from deploy.cli import run

    monkeypatch.setenv("XBR_HOME", str(tmp_path / "home"))
    assert run(["standard", "list", "--json"]) == 0
    listed = {s["name"]: s["items"] for s in json.loads(capsys.readouterr().out)}
    assert listed == {"hipaa-security": 49, "nist-csf-2": 106, "policy-procedure": 21}
    assert run(["standard", "show", "nist-csf-2", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["items"][0]["id"] == "GV.OC-01"
    good = _write(tmp_path, {})
    assert run(["standard", "validate", str(good)]) == 0
    assert "valid standard mine with 2 items in 1 groups" in capsys.readouterr().out
    bad = _write(tmp_path, {}, {"severity": "purple"})
    assert run(["standard", "validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}: item POL-02: severity: ")
    assert err.count("\n") == 1


def test_templates_name_the_standards_their_reviews_assess() -> None:
    from states.templates.catalog import load_catalog

    known = load_standards()
    templates = load_catalog()
    assert templates["qbr"].standards == ["policy-procedure"]
    assert templates["bsrr"].standards == ["nist-csf-2"]
    assert templates["trs"].standards == ["nist-csf-2"]
    assert all(name in known for t in templates.values() for name in t.standards)
