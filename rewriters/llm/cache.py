"""The request cache: one sqlite file, one row per (backend, model, messages, generation params).

sqlite (stdlib) because each answer is committed as it arrives: a killed run keeps every answer
it got and the next run asks only for the rest; an unchanged re-run asks for nothing. It lives
outside the stage's DVC output (`<data_dir>/cache/rewrite_llm/` by default) because DVC deletes
a stage's outputs before running it, which would throw the cache away exactly when it is needed.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path

from joule.errors import JouleError


def request_key(model: str, messages: list[dict], params: dict) -> str:
    """sha256 of the canonical JSON of what decides the answer."""
    payload = json.dumps([model, messages, params], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class RequestCache:
    """get/put of answers (dicts) by key; thread-safe (one connection, one lock)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False)
            self._db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, "
                             "answer TEXT NOT NULL)")
            self._db.commit()
        except (OSError, sqlite3.Error) as exc:
            raise JouleError(f"cannot open the request cache {self.path} "
                             f"(config key rewrite_llm.cache_dir): {exc}") from exc
        self._lock = threading.Lock()

    def get(self, key: str) -> dict | None:
        with self._lock:
            row = self._db.execute("SELECT answer FROM answers WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, answer: dict) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?)",
                             (key, json.dumps(answer, ensure_ascii=False, sort_keys=True)))
            self._db.commit()

    def close(self) -> None:
        self._db.close()
