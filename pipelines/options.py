"""Options a client may set on a job; unknown names and out-of-range values are refused."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError

from pipelines.errors import InvalidOptionsError


class JobOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    webhook_url: HttpUrl | None = Field(None, description="receives a signed POST at the end")
    audio: Literal["template", "footage", "none"] = Field(
        "template",
        description="soundtrack: the template's music, the footage's own audio brought to the "
        "template's loudness, or silence",
    )
    color_strength: float = Field(1.0, ge=0.0, le=1.0, description="0 keeps footage colors")
    transitions: bool = Field(True, description="use the template's transition types at cuts")
    recut: bool = Field(True, description="re-cut the footage to the template's rhythm")
    max_output_s: float | None = Field(
        None, gt=0, le=3600, description="cap on the rendered duration, seconds"
    )

    @classmethod
    def parse(cls, raw: str | bytes | dict[str, Any] | None) -> JobOptions:
        """Options from a JSON text or dict, with an ``InvalidOptionsError`` that says why."""
        if raw is None or raw == "" or raw == b"":
            return cls()
        if isinstance(raw, str | bytes):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise InvalidOptionsError(f"options are not valid JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise InvalidOptionsError(f"options must be a JSON object, got {type(raw).__name__}")
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'options'}: {err['msg']}"
                for err in exc.errors()
            )
            raise InvalidOptionsError(f"invalid options: {problems}") from exc
