"""Where a start point came from: its source, git revision, start-point image and digest."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

SourceKind = Literal["image", "git", "dir"]


@dataclass(frozen=True)
class Provenance:
    source: str  # exactly as given
    source_kind: SourceKind
    revision: str | None = None  # 40-hex git commit
    repository: str | None = None  # the source repo URL (OCI `.source` annotation or git URL)
    start_point_image: str | None = None  # e.g. ghcr.io/cyberdojostartpoints/java_junit:4edf92a
    start_point_digest: str | None = None
    language_image: str | None = None  # NAME:sha7@sha256:..., when the start-point image says
    created: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Provenance:
        return cls(**{k: value.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]
