"""Server-made SVG charts and CSV cells: pure functions."""

import re

import pytest

from shopper.dashboard.charts import aligned, line_chart, nice_ceiling, nice_seconds, period_label
from shopper.dashboard.exports import csv_stream, safe_cell
from shopper.dashboard.queries import Point

PERIODS = ["2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01"]


def test_a_line_with_a_gap_where_nobody_walked():
    svg = line_chart(PERIODS, [40.0, 55.0, None, 85.0], title="Overall score")
    assert svg.startswith('<svg class="chart" viewBox="0 0 320 150" width="100%" role="img"')
    assert svg.count("<polyline") == 1  # January-February; April stands alone after the gap
    assert svg.count("<circle") == 3
    assert 'aria-label="Overall score: 40% (Jan 26) to 85% (Apr 26)."' in svg
    assert ">85%</text>" in svg and ">Jan 26</text>" in svg and ">Feb</text>" in svg
    assert "style" not in svg


def test_targets_scales_and_escaping():
    svg = line_chart(PERIODS[:2], [240.0, 30.0], title='Wait <"on hold">', kind="seconds", target=60)
    assert "target 1 min" in svg and 'stroke-dasharray="5 4"' in svg
    assert "&lt;&quot;on hold&quot;&gt;" in svg and '<"on hold">' not in svg
    assert ">5 min</text>" in svg and ">2.5 min</text>" in svg  # a round scale above the largest value
    counts = line_chart(PERIODS[:2], [3.0, 1.0], title="Hand-offs", kind="count", target=1)
    assert ">5</text>" in counts and "target 1" in counts
    empty = line_chart(PERIODS, [None] * 4, title="Nothing")
    assert "no walks in this range" in empty and "<polyline" not in empty
    single = line_chart(["2026-03-02"], [70.0], title="One week", unit="week")
    assert 'cx="178"' in single  # the middle of the plot and ">2 Mar</text>" in single
    with pytest.raises(ValueError):
        line_chart(PERIODS, [1.0], title="Mismatch")


def test_every_value_stays_inside_the_plot():
    svg = line_chart(PERIODS, [-5.0, 150.0, 0.0, 100.0], title="Clamped")
    ys = [float(y) for y in re.findall(r'<circle cx="[^"]+" cy="([^"]+)"', svg)]
    assert min(ys) >= 14 and max(ys) <= 128


def test_helpers():
    assert [nice_ceiling(v) for v in (0, 0.5, 7, 11, 26, 240, 4000)] == [1, 1, 10, 20, 50, 250, 5000]
    assert [nice_seconds(v) for v in (5, 45, 264, 3000, 90000)] == [10, 60, 300, 3600, 172800]
    assert period_label("2026-01-01", "month") == "Jan 26" and period_label("2026-05-01", "month") == "May"
    assert aligned(PERIODS, [Point("2026-02-01", 5.0, 1)]) == [None, 5.0, None, None]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+2", "'=1+2"),
        ("+31 6", "'+31 6"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        (-2, -2),
        (None, ""),
        (True, "yes"),
        (["a", "=b"], "a; =b"),
        (["=a", "b"], "'=a; b"),
    ],
)
def test_csv_cells_never_start_a_formula(value, cell):
    assert safe_cell(value) == cell


def test_csv_streams_in_batches():
    chunks = list(csv_stream(["n"], ([n] for n in range(2500))))
    assert len(chunks) == 3 and chunks[0].startswith("\ufeffn\r\n0\r\n")
    assert "".join(chunks).count("\r\n") == 2501
