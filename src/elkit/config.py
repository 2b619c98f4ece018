"""Pipeline configuration: a TOML file that names registered, versioned factories, checked by pydantic.

::

    [nlp]
    lang = "en"
    pipeline = ["sentencizer"]
    device = "cpu"

    [nlp.tokenizer]
    factory = "elkit.Tokenizer.v1"

    [components.sentencizer]
    factory = "elkit.Sentencizer.v1"
    newline_breaks = false

Every section's keys other than ``factory`` are the factory's settings.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pydantic
import tomli_w

from elkit.devices import check_device_setting
from elkit.errors import ConfigError

__all__ = ["ComponentConfig", "NlpConfig", "PipelineConfig", "TrainingConfig", "load_config", "save_config"]


class ComponentConfig(pydantic.BaseModel):
    """One component (or the tokenizer): the factory's registered name plus its settings."""

    model_config = pydantic.ConfigDict(extra="allow")

    factory: str

    @property
    def settings(self) -> dict[str, Any]:
        """The section's keys other than ``factory``."""
        return dict(self.model_extra or {})


class NlpConfig(pydantic.BaseModel):
    """The ``[nlp]`` section.

    Attributes:
        lang: Language code.
        pipeline: Component names, in order.
        tokenizer: The tokenizer's factory and settings.
        max_length: Longest text accepted, in characters.
        device: Where the torch components run: "cpu", "cuda" (the current GPU) or "cuda:N" (``--gpu-id``
            overrides it; see :mod:`elkit.devices`). A saved pipeline records "cpu", so it loads anywhere.
    """

    model_config = pydantic.ConfigDict(extra="forbid")

    lang: str = "en"
    pipeline: list[str] = []
    tokenizer: ComponentConfig = ComponentConfig(factory="elkit.Tokenizer.v1")
    max_length: int = pydantic.Field(default=1_000_000, gt=0)
    device: str = "cpu"

    @pydantic.field_validator("device", mode="before")
    @classmethod
    def _check_device(cls, value: object) -> str:
        return check_device_setting(value)


class TrainingConfig(pydantic.BaseModel):
    """The ``[training]`` section: how ``elkit train`` trains the pipeline's trainable components."""

    model_config = pydantic.ConfigDict(extra="forbid")

    seed: int = 0
    unit: str = pydantic.Field(default="sentence", pattern="^(sentence|document)$")
    batch_words: int = pydantic.Field(default=1000, gt=0)
    max_epochs: int = pydantic.Field(default=20, ge=0)
    max_steps: int = pydantic.Field(default=0, ge=0)
    eval_frequency: int = pydantic.Field(default=500, gt=0)
    patience: int = pydantic.Field(default=3000, ge=0)
    dropout: float | None = pydantic.Field(default=None, ge=0.0, lt=1.0)
    warmup_steps: int = pydantic.Field(default=200, ge=0)
    decay: bool = True
    threads: int = pydantic.Field(default=0, ge=0)
    eval_batch_size: int = pydantic.Field(default=256, gt=0)
    held_out_share: float = pydantic.Field(default=0.1, ge=0.0, lt=1.0)
    rehearse_batch: int = pydantic.Field(default=16, gt=0)


class PipelineConfig(pydantic.BaseModel):
    """A whole pipeline config."""

    model_config = pydantic.ConfigDict(extra="forbid")

    nlp: NlpConfig = NlpConfig()
    components: dict[str, ComponentConfig] = {}
    training: TrainingConfig | None = None

    @pydantic.model_validator(mode="after")
    def _check_names(self) -> PipelineConfig:
        names = self.nlp.pipeline
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"nlp.pipeline names {duplicates} more than once")
        missing = [name for name in names if name not in self.components]
        if missing:
            raise ValueError(f"nlp.pipeline names {missing} but there is no [components.NAME] section for them")
        unused = [name for name in self.components if name not in names]
        if unused:
            raise ValueError(f"[components] sections {unused} are not in nlp.pipeline")
        return self

    def to_dict(self) -> dict[str, Any]:
        """The config as plain data (settings flattened into their sections)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<config>") -> PipelineConfig:
        """Validate plain data.

        Raises:
            ConfigError: Naming the section and key that are wrong.
        """
        try:
            return cls.model_validate(data)
        except pydantic.ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in item['loc']) or 'config'}: {item['msg']}" for item in error.errors()
            )
            raise ConfigError(f"{source}: {problems}") from None


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> PipelineConfig:
    """Read and validate a TOML config file.

    Args:
        path: The file.
        overrides: Dotted keys to set before validation, as on a command line (``{"nlp.lang": "de"}``).

    Raises:
        ConfigError: When the file is missing, is not TOML, or does not validate.
    """
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read config: {error.strerror}") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from error
    for dotted, value in (overrides or {}).items():
        section = data
        *parents, last = dotted.split(".")
        for part in parents:
            section = section.setdefault(part, {})
            if not isinstance(section, dict):
                raise ConfigError(f"override {dotted!r}: {part!r} is not a section")
        section[last] = value
    return PipelineConfig.from_dict(data, source=str(path))


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_none(item) for item in value]
    return value


def save_config(config: PipelineConfig, path: str | Path) -> None:
    """Write a config as TOML; settings that are None are left out (TOML has no null: the default applies)."""
    Path(path).write_text(tomli_w.dumps(_without_none(config.to_dict())), encoding="utf-8")
