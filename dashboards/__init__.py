"""EditLens dashboards: a Streamlit app over the exported marts (one page per question).

Entry points: ``streamlit run dashboards/app.py -- --warehouse DIR`` or ``editlens.dashboards.serve.serve(warehouse)``.
All mart reads go through the ``editlens.dashboards.data`` package.
"""
