"""The Labelbox ontology, declared in configuration: created when the project has none, else
compared with the project's and the differences reported (never changed silently).

The default ontology (names match the pre-labels of :mod:`.prelabels` and what the export's
lesion masks read):

* tools: ``lesion`` (bounding box), ``lesion_mask`` (segmentation mask);
* global radios: ``laterality`` (left, right), ``clock`` (12:00, 12:30, ... 11:30),
  ``birads`` (0, 1, 2, 3, 4A, 4B, 4C, 5, 6);
* free text: ``comment``.

A YAML file named by ``CADBUSI_LABELBOX_ONTOLOGY`` replaces it::

    name: cadbusi-breast-us
    tools:
      - {name: lesion, tool: bbox}
      - {name: lesion_mask, tool: mask}
    classifications:
      - {name: laterality, type: radio, options: [left, right]}
      - {name: comment, type: text}

>>> spec = OntologySpec.default()
>>> [t.name for t in spec.tools], [c.name for c in spec.classifications]
(['lesion', 'lesion_mask'], ['laterality', 'clock', 'birads', 'comment'])
>>> project = spec.normalized()
>>> project["classifications"][0]["options"] = [{"value": "left", "label": "left"}]
>>> project["tools"][0]["tool"] = "polygon"
>>> ontology_differences(spec, project)
['tool lesion is polygon, configured rectangle', 'radio laterality lacks option(s) right']
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ONTOLOGY_ENV = "CADBUSI_LABELBOX_ONTOLOGY"
DEFAULT_NAME = "cadbusi-breast-us"
#: configuration word → Labelbox normalized ``tool`` value
TOOL_KINDS = {
    "bbox": "rectangle",
    "rectangle": "rectangle",
    "mask": "raster-segmentation",
    "raster-segmentation": "raster-segmentation",
    "polygon": "polygon",
    "point": "point",
    "line": "line",
}
CLASSIFICATION_TYPES = ("radio", "checklist", "text")
CLOCK_OPTIONS = tuple(f"{(m // 60) or 12}:{m % 60:02d}" for m in range(0, 720, 30))
BIRADS_OPTIONS = ("0", "1", "2", "3", "4A", "4B", "4C", "5", "6")
_COLORS = ("#ff0000", "#00ffff", "#ffff00", "#00ff00", "#ff00ff", "#0000ff")


class OntologyError(ValueError):
    """The ontology configuration is malformed (the message says where)."""


@dataclass(frozen=True)
class ToolSpec:
    name: str
    tool: str  # Labelbox normalized value: rectangle, raster-segmentation, polygon, ...


@dataclass(frozen=True)
class ClassificationSpec:
    name: str
    type: str  # radio, checklist, text
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class OntologySpec:
    name: str = DEFAULT_NAME
    tools: tuple[ToolSpec, ...] = ()
    classifications: tuple[ClassificationSpec, ...] = ()

    @classmethod
    def default(cls) -> OntologySpec:
        return cls(
            DEFAULT_NAME,
            (ToolSpec("lesion", "rectangle"), ToolSpec("lesion_mask", "raster-segmentation")),
            (
                ClassificationSpec("laterality", "radio", ("left", "right")),
                ClassificationSpec("clock", "radio", CLOCK_OPTIONS),
                ClassificationSpec("birads", "radio", BIRADS_OPTIONS),
                ClassificationSpec("comment", "text"),
            ),
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> OntologySpec:
        tools = []
        for n, tool in enumerate(data.get("tools") or [], start=1):
            kind = TOOL_KINDS.get(str(tool.get("tool", "")).lower())
            if not tool.get("name") or kind is None:
                raise OntologyError(
                    f"ontology tool {n} needs a name and a tool among {sorted(TOOL_KINDS)}"
                )
            tools.append(ToolSpec(str(tool["name"]), kind))
        classifications = []
        for n, item in enumerate(data.get("classifications") or [], start=1):
            kind = str(item.get("type", "")).lower()
            options = tuple(str(o) for o in item.get("options") or ())
            if not item.get("name") or kind not in CLASSIFICATION_TYPES:
                raise OntologyError(
                    f"ontology classification {n} needs a name and a type among "
                    f"{list(CLASSIFICATION_TYPES)}"
                )
            if kind != "text" and not options:
                raise OntologyError(f"ontology classification {item['name']} needs options")
            classifications.append(ClassificationSpec(str(item["name"]), kind, options))
        names = [t.name for t in tools] + [c.name for c in classifications]
        if len(set(names)) != len(names):
            raise OntologyError("ontology feature names must be unique")
        return cls(str(data.get("name") or DEFAULT_NAME), tuple(tools), tuple(classifications))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OntologySpec:
        env = os.environ if env is None else env
        path = env.get(ONTOLOGY_ENV)
        if not path:
            return cls.default()
        return cls.from_mapping(yaml.safe_load(Path(path).read_text()) or {})

    def normalized(self) -> dict[str, Any]:
        """The ontology in Labelbox's normalized JSON shape (what ``create_ontology`` takes and
        ``Ontology.normalized`` returns; the same as the SDK's ``OntologyBuilder.asdict()``)."""
        return {
            "tools": [
                {
                    "tool": t.tool,
                    "name": t.name,
                    "required": False,
                    "color": _COLORS[n % len(_COLORS)],
                    "classifications": [],
                    "schemaNodeId": None,
                    "featureSchemaId": None,
                    "attributes": None,
                }
                for n, t in enumerate(self.tools)
            ],
            "classifications": [
                {
                    "type": c.type,
                    "instructions": c.name,
                    "name": c.name,
                    "required": False,
                    "options": [
                        {
                            "schemaNodeId": None,
                            "featureSchemaId": None,
                            "label": o,
                            "value": o,
                            "options": [],
                        }
                        for o in c.options
                    ],
                    "schemaNodeId": None,
                    "featureSchemaId": None,
                    "attributes": None,
                    "scope": "global",
                }
                for c in self.classifications
            ],
        }


def _name(item: Mapping[str, Any]) -> str:
    return str(item.get("name") or item.get("instructions") or "")


def ontology_differences(spec: OntologySpec, normalized: Mapping[str, Any] | str) -> list[str]:
    """What the project's ontology (``normalized``) lacks or has differently from ``spec``;
    features it has beyond the configuration are listed last as ``extra``."""
    parsed: Mapping[str, Any] = (
        json.loads(normalized or "{}") if isinstance(normalized, str) else normalized
    )
    tools = {_name(t): t for t in parsed.get("tools") or []}
    classes = {_name(c): c for c in parsed.get("classifications") or []}
    out: list[str] = []
    for tool in spec.tools:
        found = tools.get(tool.name)
        if found is None:
            out.append(f"tool {tool.name} ({tool.tool}) is missing")
        elif found.get("tool") != tool.tool:
            out.append(f"tool {tool.name} is {found.get('tool')}, configured {tool.tool}")
    for wanted in spec.classifications:
        found = classes.get(wanted.name)
        if found is None:
            out.append(f"{wanted.type} {wanted.name} is missing")
            continue
        if found.get("type") != wanted.type:
            out.append(f"{wanted.name} is {found.get('type')}, configured {wanted.type}")
            continue
        have = {str(o.get("value") or o.get("label")) for o in found.get("options") or []}
        lacking = [o for o in wanted.options if o not in have]
        if lacking:
            out.append(f"{wanted.type} {wanted.name} lacks option(s) {', '.join(lacking)}")
        extra_options = sorted(have - set(wanted.options))
        if extra_options and wanted.type != "text":
            out.append(
                f"{wanted.type} {wanted.name} has extra option(s) {', '.join(extra_options)}"
            )
    for name in sorted(set(tools) - {t.name for t in spec.tools}):
        out.append(f"extra tool {name} (not configured)")
    for name in sorted(set(classes) - {c.name for c in spec.classifications}):
        out.append(f"extra classification {name} (not configured)")
    return out


@dataclass
class OntologyCheck:
    #: created (the project had none), matches, differs, missing (none and create=False)
    status: str
    ontology_id: str | None = None
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in ("created", "matches")


def ensure_ontology(
    client: Any, project_id: str, spec: OntologySpec | None = None, *, create: bool = True
) -> OntologyCheck:
    """Check (or create and connect) the ontology of project ``project_id`` with the labelbox
    SDK ``client``. A project that has an ontology is compared, never modified: changing the
    ontology of a project being labelled is a decision for a person, so differences are
    reported. An ontology of the configured name that matches is reused rather than created
    twice."""
    from labelbox import MediaType

    spec = spec or OntologySpec.from_env()
    project = client.get_project(project_id)
    current = project.ontology()
    if current is not None:
        differences = ontology_differences(spec, current.normalized or {})
        return OntologyCheck("differs" if differences else "matches", current.uid, differences)
    if not create:
        return OntologyCheck("missing")
    reusable = [
        o
        for o in client.get_ontologies(spec.name)
        if o.name == spec.name and not ontology_differences(spec, o.normalized or {})
    ]
    ontology = (
        reusable[0]
        if reusable
        else client.create_ontology(spec.name, spec.normalized(), media_type=MediaType.Image)
    )
    project.connect_ontology(ontology)
    return OntologyCheck("created", ontology.uid)


def differences_text(check: OntologyCheck, limit: int = 20) -> str:
    """One message for a run log or an error."""
    if not check.differences:
        return f"ontology {check.status}"
    shown: Sequence[str] = check.differences[:limit]
    more = len(check.differences) - len(shown)
    return (
        "ontology differs from the configuration: "
        + "; ".join(shown)
        + (f"; and {more} more" if more else "")
    )
