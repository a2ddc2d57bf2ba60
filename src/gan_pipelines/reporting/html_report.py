"""A self-contained HTML report (images and curves inline as base64 PNG) and a Markdown summary.

Generic pieces (tables, image grids, curves) know nothing about shadows, so later GAN families
can build their reports from them.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd


def png_data_uri(figure) -> str:
    """Render a matplotlib figure to an inline ``data:`` URI and close it."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def image_grid_figure(rows: Sequence[Sequence[np.ndarray]], column_titles: Sequence[str], row_titles: Sequence[str]):
    """A grid of uint8 images (RGB or single-channel masks), one sample per row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_rows, n_cols = len(rows), len(column_titles)
    figure, axes = plt.subplots(n_rows, n_cols, figsize=(1.9 * n_cols, 1.9 * n_rows), squeeze=False)
    for r, images in enumerate(rows):
        for c, image in enumerate(images):
            axis = axes[r][c]
            axis.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=255, interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if r == 0:
                axis.set_title(column_titles[c], fontsize=9)
            if c == 0:
                axis.set_ylabel(row_titles[r], fontsize=8)
    figure.tight_layout()
    return figure


def curves_figure(history: pd.DataFrame, panels: Mapping[str, Sequence[str]], title: str):
    """One panel per entry of ``panels`` (panel title -> history columns), x = epoch.
    Columns missing from the history are left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = {name: [c for c in columns if c in history] for name, columns in panels.items()}
    panels = {name: columns for name, columns in panels.items() if columns}
    figure, axes = plt.subplots(1, max(1, len(panels)), figsize=(4.2 * max(1, len(panels)), 3.0), squeeze=False)
    for axis, (name, columns) in zip(axes[0], panels.items()):
        for column in columns:
            axis.plot(history["epoch"], history[column], marker="o", markersize=3, label=column)
        axis.set_title(name, fontsize=10)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    return figure


def html_table(frame: pd.DataFrame, float_format: str = "{:.4g}") -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "n/a" if np.isnan(value) else float_format.format(value)
        return html.escape(str(value))

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in [frame.index.name or ""] + list(frame.columns))
    body = "".join(
        "<tr>" + f"<th>{html.escape(str(index))}</th>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>"
        for index, row in zip(frame.index, frame.itertuples(index=False))
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def markdown_table(frame: pd.DataFrame, float_format: str = "{:.4g}") -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "n/a" if np.isnan(value) else float_format.format(value)
        return str(value)

    header = "| " + " | ".join([frame.index.name or ""] + [str(c) for c in frame.columns]) + " |"
    rule = "|" + "---|" * (len(frame.columns) + 1)
    rows = ["| " + " | ".join([str(i)] + [cell(v) for v in row]) + " |" for i, row in zip(frame.index, frame.itertuples(index=False))]
    return "\n".join([header, rule, *rows])


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
thead th { background: #f0f0f0; }
img { max-width: 100%; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 12px; }
.note { color: #555; font-size: 0.9em; }
"""


def render_html(title: str, sections: Sequence[tuple[str, str]]) -> str:
    """Assemble the page from (heading, html body) sections."""
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]
    for heading, body in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>{body}")
    parts.append("</body></html>")
    return "".join(parts)


def image_tag(uri: str, alt: str) -> str:
    return f"<img src='{uri}' alt='{html.escape(alt)}'>"


def config_block(config: Mapping[str, Any]) -> str:
    return "<pre>" + html.escape(json.dumps(config, indent=2, sort_keys=True, default=str)) + "</pre>"


def best_worst_random(key: pd.Series, count: int, seed: int, *, ascending: bool) -> dict[str, list[str]]:
    """``{"best", "worst", "random"}`` sample names for a report's example grids.

    ``key``: one score per sample (index = sample name, no NaN), ordered best first when sorted
    with ``ascending``; ``random`` is a seeded draw of ``count`` names, sorted."""
    ranked = key.sort_values(ascending=ascending).index.tolist()
    rng = np.random.default_rng(seed)
    random = sorted(rng.choice(sorted(key.index), size=min(count, len(key)), replace=False).tolist())
    return {"best": ranked[:count], "worst": ranked[::-1][:count], "random": random}
