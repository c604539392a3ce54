"""EditLens dashboards: a Streamlit app over the exported marts (one page per question).

Entry points: ``streamlit run dashboards/app.py -- --warehouse DIR`` or ``dashboards.serve.serve(warehouse)``.
All mart reads go through the ``dashboards.data`` package.
"""
