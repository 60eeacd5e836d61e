"""Reports for other tools and for people: JUnit XML, Prometheus text, HTML pages, fleets and diffs.

Every renderer here is a pure function of the JSON documents the other
commands print (`check --json`, `facts --json`, saved bench runs, `recommend
--json`, apply journals), so a report can be made on any machine from files
fetched from another.
"""
