"""The baseline for bench_autosave.py: a bare Flask endpoint served by the same gunicorn settings."""

from flask import Flask

app = Flask(__name__)


@app.put("/bare")
def bare():
    return {"ok": True}
