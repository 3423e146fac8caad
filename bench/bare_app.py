"""The serving baseline: a bare Flask route answering every path with fixed bytes.

    BENCH_BODY_FILE=/tmp/all.atom BENCH_CONTENT_TYPE='application/atom+xml; charset=utf-8' \\
        gunicorn --chdir bench --worker-class gthread --workers 2 --threads 4 bare_app:app

bench/serve.py runs it in the same gunicorn configuration as ``wsgi:app``,
with the bytes feedpub serves for the measured feed, so that the ratio
feedpub/bare is the cost of feedpub's own work per request (looking the
document up, validators, caching headers) over Flask's floor. The bytes are
read once, at import.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask
from flask import Response

BODY = Path(os.environ["BENCH_BODY_FILE"]).read_bytes()
CONTENT_TYPE = os.environ.get("BENCH_CONTENT_TYPE", "application/atom+xml; charset=utf-8")

app = Flask(__name__)


@app.route("/", defaults={"path": ""})
@app.route("/<path:path>")
def document(path: str) -> Response:
    """The same bytes for any path."""
    return Response(BODY, content_type=CONTENT_TYPE)
