"""Tests of ftkit.text_tables: the list and table formats that settings and reports share."""

import pytest

from ftkit.text_tables import comma_list, markdown_table


def test_comma_list_strips_and_drops_empty_items():
    assert comma_list(" base, adapter ,,ginza,") == ["base", "adapter", "ginza"]
    assert comma_list("") == [] and comma_list(" , ") == [] and comma_list("q8_0") == ["q8_0"]


def test_markdown_table_puts_names_left_and_numbers_right():
    table = markdown_table(["metric", "base", "adapter"], [["name_set_f1", "0.500", "0.917"], ["samples", 4, 4]])
    assert table == ("| metric | base | adapter |\n"
                     "|---|---:|---:|\n"
                     "| name_set_f1 | 0.500 | 0.917 |\n"
                     "| samples | 4 | 4 |")
    assert markdown_table(["setting", "value"], [], align="ll") == "| setting | value |\n|---|---|"
    with pytest.raises(ValueError, match="one 'l' or 'r' per column"):
        markdown_table(["a", "b"], [], align="l")

