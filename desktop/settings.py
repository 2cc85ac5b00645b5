"""What the window remembers between runs (QSettings): model, device, data folder, the
minimum score, layout; and what the command line gave for this run only."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from core.defaults import DEFAULT_MIN_SCORE
from desktop.engine import EngineConfig
from desktop.options import DEVICES


class Settings:
    """A typed view of a QSettings store (the platform's, or an .ini file for tests)."""

    def __init__(self, store: QSettings | None = None) -> None:
        self.store = store or QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                                        "pictor", "pictor")
        self._this_run: dict[str, str] = {}  # given on the command line: never saved

    def use_for_this_run(self, *, data_dir: str | None = None, model: str | None = None,
                         device: str | None = None) -> None:
        """Values from the command line: read instead of the saved ones, and changed in
        their place (a model chosen meanwhile belongs to this run's library), never saved.
        Another data folder brings its own model: ``model``, else the library's own."""
        if data_dir is not None:
            self._this_run["library/data_dir"] = data_dir
            self._this_run["library/model"] = model or ""
        elif model is not None:
            self._this_run["library/model"] = model
        if device is not None:
            self._this_run["library/device"] = device

    def for_this_run(self, key: str) -> bool:
        """Whether ``key`` (``data_dir``, ``model``, ``device``) came from the command line."""
        return f"library/{key}" in self._this_run

    @classmethod
    def at(cls, path: Path) -> Settings:
        return cls(QSettings(str(path), QSettings.Format.IniFormat))

    def _text(self, key: str, default: str = "") -> str:
        if key in self._this_run:
            return self._this_run[key]
        value = self.store.value(key, default)
        return str(value) if value is not None else default

    def _set(self, key: str, value: str) -> None:
        if key in self._this_run:
            self._this_run[key] = value
        else:
            self.store.setValue(key, value)

    @property
    def data_dir(self) -> str:
        return self._text("library/data_dir")

    @data_dir.setter
    def data_dir(self, value: str) -> None:
        self._set("library/data_dir", value)

    @property
    def model(self) -> str:
        return self._text("library/model")

    @model.setter
    def model(self, value: str) -> None:
        self._set("library/model", value)

    @property
    def device(self) -> str:
        value = self._text("library/device", "auto")
        return value if value in DEVICES else "auto"

    @device.setter
    def device(self, value: str) -> None:
        self._set("library/device", value)

    @property
    def keep_watching(self) -> bool:
        """Closing the window hides it in the tray, watching on (where there is a tray)."""
        return self._text("window/keep_watching", "true").lower() != "false"

    @keep_watching.setter
    def keep_watching(self, value: bool) -> None:
        self.store.setValue("window/keep_watching", "true" if value else "false")

    @property
    def api_enabled(self) -> bool:
        """Other programs on this computer may search through the local API while Pictor
        runs (its address and token in api.json, for the user's programs only)."""
        return self._text("api/enabled", "true").lower() != "false"

    @api_enabled.setter
    def api_enabled(self, value: bool) -> None:
        self.store.setValue("api/enabled", "true" if value else "false")

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
