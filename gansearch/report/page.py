"""report.html: one self-contained file (styles, script, data and sample thumbnails inlined), so
that it opens from disk, offline, and can be mailed or logged as one MLflow artifact."""

from __future__ import annotations

import base64
import json
import math
import re
from importlib import resources
from pathlib import Path
from typing import Any

MAX_THUMBNAIL_BYTES = 512 * 1024  # larger sample sheets are left out rather than bloat the page


def asset(name: str) -> str:
    """A file of the page (report.html, report.js, report.css), shipped inside the package."""
    return resources.files("gansearch.report").joinpath("assets", name).read_text(encoding="utf-8")


def thumbnail(path: Path) -> str | None:
    if not path.is_file() or path.stat().st_size > MAX_THUMBNAIL_BYTES:
        return None
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


# Inside <script>, "</script" ends the element and "<!--" starts an escaped state that can swallow
# the rest of the page; JSON's \u escapes keep every such character out of the HTML parser's sight.
_SCRIPT_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                              "\u2028": "\\u2028", "\u2029": "\\u2029"})


def render_page(title: str, data: dict[str, Any], page: str = "report") -> str:
    """``assets/<page>.html`` with its script, the shared styles and ``data`` inlined."""
    payload = json.dumps(_plain(data), allow_nan=False).translate(_SCRIPT_SAFE)
    parts = {"/*__CSS__*/": asset("report.css"), "/*__JS__*/": asset("page.js") + asset(f"{page}.js"),
             "__DATA__": payload, "__TITLE__": _escape(title)}
    # One pass: a marker's text inside the data (a knob named __TITLE__) is never replaced.
    return re.sub("|".join(map(re.escape, parts)), lambda m: parts[m.group(0)], asset(f"{page}.html"))


def _plain(value: Any) -> Any:
    """JSON-ready: NaN (a missing value in pandas) becomes null, numpy scalars Python ones."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
