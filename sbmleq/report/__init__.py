"""The validation report: rows in, files out (it never imports sbmleq.validation).

- :mod:`~sbmleq.report.fmt`: defensive readers of row fields and number formatting;
- :mod:`~sbmleq.report.categories`: reasons and errors counted by code;
- :mod:`~sbmleq.report.summary`: ``summarize``, ``console_summary``, ``summary_markdown``;
- :mod:`~sbmleq.report.csv`: ``write_csv``;
- :mod:`~sbmleq.report.plots`: SVG plots (matplotlib, imported inside the functions);
- :mod:`~sbmleq.report.html`: ``write_html`` / ``write_report`` (Jinja2 template
  ``templates/report.html.j2``, autoescape on).
"""
