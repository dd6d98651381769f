"""The one typed settings object, read from the environment (names fixed by the SPEC)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "placeholder"})
REPOSITORY_ROOT = Path(__file__).resolve().parent.parent


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "clipzy"


class Settings(BaseSettings):
    """Engine and service settings. Every field can be set by its environment variable."""

    model_config = SettingsConfigDict(env_prefix="CLIPZY_", extra="ignore")

    env: Literal["development", "production"] = "development"
    max_file_size_mb: int = Field(
        1000, ge=1, validation_alias=AliasChoices("MAX_FILE_SIZE_MB", "CLIPZY_MAX_FILE_SIZE_MB")
    )
    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = None
    triton_url: str | None = None
    webhook_secret: str | None = None
    model_repository: Path = REPOSITORY_ROOT / "model_repository"
    device: str = Field(
        "cpu",
        pattern=r"^(cpu|auto|cuda(:\d+)?)$",
        description="where the in-process models and the style transfer run: cpu, cuda, "
        "cuda:N, or auto (a CUDA GPU where torch sees one, else the CPU)",
    )
    max_duration_s: float = Field(1800.0, gt=0, description="longest accepted clip, seconds")
    analysis_width: int = Field(320, ge=64, le=1920, description="template analysis width, px")
    decode_stall_s: float = Field(
        60.0, gt=0, description="longest wait for the decoder's next frame (media_timeout), s"
    )
    log_json: bool = False
    log_level: str = "INFO"
    worker_poll_s: float = Field(0.2, gt=0)
    worker_enabled: bool = Field(
        True, description="run the job worker inside the API process (off: separate workers)"
    )
    webhook_timeout_s: float = Field(5.0, gt=0)
    webhook_retries: int = Field(4, ge=0)
    webhook_backoff_s: float = Field(1.0, gt=0, description="first retry delay; doubles each time")

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.env == "production" and (self.webhook_secret or "") in PLACEHOLDER_SECRETS:
            raise ValueError(
                "CLIPZY_WEBHOOK_SECRET must be set to a real secret when CLIPZY_ENV=production"
            )
        return self

    @property
    def max_file_size_bytes(self) -> int:
        return self.max_file_size_mb * 1024 * 1024

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'clipzy.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
