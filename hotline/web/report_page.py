"""The period report as a self-contained HTML page (Vietnamese or English): the same rows as
``hotline report`` prints, escaped, with the page's few styles inline."""

from __future__ import annotations

import html

from tickets.reports import Lang, Report, label, period_text, rows, section_title

_PAGE_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1b1b}"
    "table{border-collapse:collapse;min-width:36rem}"
    "th,td{padding:.3rem .8rem;border-bottom:1px solid #ddd;text-align:left}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "tr.h th{background:#f2f4f7;padding-top:1rem}"
)


def report_page(report: Report, lang: Lang) -> str:
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{lang.value}"><head><meta charset="utf-8">',
        f"<title>{html.escape(label('title', lang))}</title>",
        f"<style>{_PAGE_CSS}</style></head><body>",
        f"<h1>{html.escape(label('title', lang))}</h1>",
        f"<p>{html.escape(period_text(report, lang))}</p>",
        "<table>",
        f"<thead><tr><th>{html.escape(label('figure', lang))}</th>"
        f"<th>{html.escape(label('value', lang))}</th>"
        f"<th>{html.escape(label('share', lang))}</th></tr></thead><tbody>",
    ]
    section = None
    for row in rows(report):
        if row.section != section:
            section = row.section
            title = html.escape(section_title(section, lang))
            out.append(f'<tr class="h"><th colspan="3">{title}</th></tr>')
        share = row.share_text(lang)
        text = html.escape(label(row.key, lang).strip())
        out.append(
            f'<tr data-key="{row.section}.{row.key}"><td>{text}</td>'
            f'<td class="n">{html.escape(row.value_text(lang))}</td>'
            f'<td class="n">{html.escape(share)}</td></tr>'
        )
    out.append("</tbody></table></body></html>")
    return "\n".join(out)
