"""The client report's aggregations in DuckDB, over the same Parquet file of raw events the
polars benchmark reads (`starling-bench report`), for the ratio in docs/PERFORMANCE.md. Same plan:
one row per message (its dimensions, whether each kind happened, its reviews and stars),
summed per brand, store, campaign, variant, locale and day (the cube), then every grouping
(brand, store, campaign, (campaign, variant), locale, day, total) summed from the cube.

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
sums = "SUM(sent) AS sent, SUM(bounced) AS bounced, SUM(complained) AS complained, SUM(unsubscribed) AS unsubscribed, " \
       "SUM(opened) AS opened, SUM(clicked) AS clicked, SUM(reviews) AS reviews, SUM(rating_sum) AS rating_sum"
for g, (name, key, key2) in enumerate(groupings):
    parts.append(f"SELECT {g} AS grouping, {key} AS key, {key2} AS key2, {sums} FROM cube GROUP BY ALL")
happened = lambda code, name: f"MAX(CASE WHEN kind = {code} THEN 1 ELSE 0 END) AS {name}"
sql = f"""
WITH events AS (SELECT * FROM read_parquet('{path}') WHERE day BETWEEN {lo} AND {hi}),
messages AS (
    SELECT message_id, any_value(brand) AS brand, any_value(store) AS store, any_value(campaign) AS campaign,
           any_value(variant) AS variant, any_value(locale) AS locale, any_value(day) AS day,
           {happened(0, "sent")}, {happened(1, "bounced")}, {happened(2, "complained")}, {happened(3, "unsubscribed")},
           {happened(4, "opened")}, {happened(5, "clicked")},
           SUM(CASE WHEN kind = 6 THEN 1 ELSE 0 END) AS reviews, COALESCE(SUM(rating), 0) AS rating_sum
    FROM events GROUP BY message_id
),
cube AS (
    SELECT brand, store, campaign, variant, locale, day, {sums}
    FROM messages GROUP BY brand, store, campaign, variant, locale, day
)
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
