"""The two small text formats settings and reports share: comma-separated lists in, Markdown tables out."""


def comma_list(text: str) -> list[str]:
    """The items of "a, b,c": stripped, empty ones dropped, in the order given ("" is no items)."""
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def markdown_table(header, rows, align: str = "") -> str:
    """A GitHub Markdown table, one line per row, without a trailing newline; cells are written with str().

    `align` has one letter per column, "l" (left) or "r" (right). The default puts the first column left and the
    others right, for the usual table of names against numbers. An empty header cell, the corner of a table
    labelled along both sides, is written "| |" as the kit's documents write it.
    """
    header = [str(cell) for cell in header]
    align = align or "l" + "r" * (len(header) - 1)
    if len(align) != len(header) or set(align) - {"l", "r"}:
        raise ValueError(f"align {align!r} must have one 'l' or 'r' per column ({len(header)})")
    lines = ["|" + "|".join(f" {cell} " if cell else " " for cell in header) + "|",
             "|" + "".join("---:|" if side == "r" else "---|" for side in align)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
