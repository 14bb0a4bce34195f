"""Curated SQL, one statement per file, loaded by name.

`mysql/` files use PyMySQL's `%(name)s` placeholders and the portable MySQL/SQLite subset;
`clickhouse/` files use server-side `{name:Type}` parameters. Values are always bound by the
driver; nothing here formats a value into SQL text.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_PYFORMAT = re.compile(r"%\((\w+)\)s")


@cache
def load_sql(name: str) -> str:
    """Return the text of `sql/<name>.sql`, e.g. load_sql("mysql/infrastructure")."""
    return resources.files(__package__).joinpath(f"{name}.sql").read_text(encoding="utf-8")


def to_sqlite_placeholders(sql: str) -> str:
    """PyMySQL's `%(name)s` becomes sqlite3's `:name`: the same named binding, another spelling."""
    return _PYFORMAT.sub(r":\1", sql)


def split_statements(sql: str) -> list[str]:
    """Split a schema file into statements (no semicolons inside our DDL literals)."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
