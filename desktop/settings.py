"""What the window remembers between runs (QSettings): model, device, data folder, the
minimum score, layout."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from core.defaults import DEFAULT_MIN_SCORE
from desktop.engine import EngineConfig

DEVICES = ("auto", "cpu", "cuda", "mps")


class Settings:
    """A typed view of a QSettings store (the platform's, or an .ini file for tests)."""

    def __init__(self, store: QSettings | None = None) -> None:
        self.store = store or QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                                        "pictor", "pictor")

    @classmethod
    def at(cls, path: Path) -> Settings:
        return cls(QSettings(str(path), QSettings.Format.IniFormat))

    def _text(self, key: str, default: str = "") -> str:
        value = self.store.value(key, default)
        return str(value) if value is not None else default

    @property
    def data_dir(self) -> str:
        return self._text("library/data_dir")

    @data_dir.setter
    def data_dir(self, value: str) -> None:
        self.store.setValue("library/data_dir", value)

    @property
    def model(self) -> str:
        return self._text("library/model")

    @model.setter
    def model(self, value: str) -> None:
        self.store.setValue("library/model", value)

    @property
    def device(self) -> str:
        value = self._text("library/device", "auto")
        return value if value in DEVICES else "auto"

    @device.setter
    def device(self, value: str) -> None:
        self.store.setValue("library/device", value)

    @property
    def keep_watching(self) -> bool:
        """Closing the window hides it in the tray, watching on (where there is a tray)."""
        return self._text("window/keep_watching", "true").lower() != "false"

    @keep_watching.setter
    def keep_watching(self, value: bool) -> None:
        self.store.setValue("window/keep_watching", "true" if value else "false")

    @property
    def min_score(self) -> float:
        """The search's minimum score, 0-100 (the default when unset or unreadable)."""
        try:
            value = float(self._text("search/min_score", str(DEFAULT_MIN_SCORE)))
        except ValueError:
            return DEFAULT_MIN_SCORE
        return min(max(value, 0.0), 100.0) if value == value else DEFAULT_MIN_SCORE

    @min_score.setter
    def min_score(self, value: float) -> None:
        self.store.setValue("search/min_score", float(value))

    def engine_config(self) -> EngineConfig:
        return EngineConfig(Path(self.data_dir).expanduser() if self.data_dir else None,
                            self.model or None, self.device)

    def layout(self, key: str) -> QByteArray | None:
        value = self.store.value(f"window/{key}")
        return value if isinstance(value, QByteArray) else None

    def set_layout(self, key: str, value: QByteArray) -> None:
        self.store.setValue(f"window/{key}", value)

    def sync(self) -> None:
        self.store.sync()
