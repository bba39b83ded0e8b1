"""The client report's aggregations in DuckDB, over the same Parquet snapshot the polars
benchmark reads (`starling-bench report`), for the ratio in the README. Same plan: events
made unique per (message, kind) except reviews, then counts per brand, store, campaign,
(campaign, variant), locale, day and in total, plus reviews' count and stars.

usage: python3 duckdb_report.py <parquet> <from_day> <until_day>"""
import sys
import time

import duckdb

path, lo, hi = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
groupings = [
    ("brand", "brand", "0"),
    ("store", "store", "0"),
    ("campaign", "campaign", "0"),
    ("variant", "campaign", "variant"),
    ("locale", "locale", "0"),
    ("day", "day", "0"),
    ("total", "0", "0"),
]
parts = []
for g, (name, key, key2) in enumerate(groupings):
    parts.append(f"SELECT {g} AS grouping, {key} AS key, {key2} AS key2, kind, COUNT(*) AS n, 0 AS rating_sum FROM flags GROUP BY ALL")
    parts.append(f"SELECT {g} AS grouping, {key} AS key, {key2} AS key2, kind, COUNT(*) AS n, SUM(rating) AS rating_sum FROM reviews GROUP BY ALL")
sql = f"""
WITH events AS (SELECT * FROM read_parquet('{path}') WHERE day BETWEEN {lo} AND {hi}),
flags AS (
    SELECT message_id, kind, any_value(brand) AS brand, any_value(store) AS store, any_value(campaign) AS campaign,
           any_value(variant) AS variant, any_value(locale) AS locale, any_value(day) AS day
    FROM events WHERE kind <> 6 GROUP BY message_id, kind
),
reviews AS (SELECT * FROM events WHERE kind = 6)
{" UNION ALL ".join(parts)}
"""
con = duckdb.connect()
con.execute("SET threads TO 2")
times = []
rows = 0
for _ in range(3):
    started = time.perf_counter()
    rows = len(con.execute(sql).fetchall())
    times.append(time.perf_counter() - started)
times.sort()
print(f"duckdb {duckdb.__version__}: {rows} rows over all groupings; runs {[round(t, 3) for t in times]} s")
print(f"RESULT duckdb_s={times[1]:.3f}")
